//! The register of medical field codes ÖR49 checks `medicalFieldCode` against.
//!
//! The authoritative register is Socialstyrelsen's and changes over time, so it is data, not
//! code: a text file (`schemas/medical-field-codes.txt`, built into the binary as the default)
//! that a deployment replaces with its own copy. See docs/validation.md for where the list
//! comes from and how honest the built-in one is.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use thiserror::Error;

/// The built-in list, `schemas/medical-field-codes.txt`.
pub const EMBEDDED_MEDICAL_FIELD_CODES: &str =
    include_str!("../../../schemas/medical-field-codes.txt");

/// A register of 3-digit medical field codes, with their names where the file gives one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MedicalFieldCodes {
    /// One bit per code 000–999, so the check per line is a shift and a mask.
    bits: [u64; 16],
    names: BTreeMap<u16, String>,
}

/// A code-list file that cannot be used: which file, which line, what is wrong.
#[derive(Debug, Error)]
pub enum CodeListError {
    #[error("cannot read the medical field code list {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}:{line}: {reason}", path.display())]
    Line {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    #[error("the medical field code list {} holds no codes", path.display())]
    Empty { path: PathBuf },
}

impl MedicalFieldCodes {
    /// The built-in register (parsed once per process).
    pub fn embedded() -> Arc<MedicalFieldCodes> {
        static CODES: OnceLock<Arc<MedicalFieldCodes>> = OnceLock::new();
        CODES
            .get_or_init(|| {
                Arc::new(
                    MedicalFieldCodes::parse(
                        EMBEDDED_MEDICAL_FIELD_CODES,
                        Path::new("schemas/medical-field-codes.txt"),
                    )
                    .expect("the built-in medical field code list parses (tested)"),
                )
            })
            .clone()
    }

    /// Reads a register from a file: one 3-digit code per line, optionally followed by
    /// whitespace and a name; `#` starts a comment; blank lines are ignored.
    pub fn from_file(path: &Path) -> Result<MedicalFieldCodes, CodeListError> {
        let text = std::fs::read_to_string(path).map_err(|source| CodeListError::Io {
            path: path.to_owned(),
            source,
        })?;
        MedicalFieldCodes::parse(&text, path)
    }

    /// Parses the file format; `path` only names the source in errors.
    pub fn parse(text: &str, path: &Path) -> Result<MedicalFieldCodes, CodeListError> {
        let mut codes = MedicalFieldCodes {
            bits: [0; 16],
            names: BTreeMap::new(),
        };
        let mut count = 0;
        for (i, raw) in text.lines().enumerate() {
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let (code, name) = match line.split_once(char::is_whitespace) {
                Some((c, n)) => (c, n.trim()),
                None => (line, ""),
            };
            if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_digit()) {
                return Err(CodeListError::Line {
                    path: path.to_owned(),
                    line: i + 1,
                    reason: format!("'{code}' is not a 3-digit medical field code"),
                });
            }
            let n: u16 = code.parse().expect("three digits");
            if codes.contains_code(n) {
                return Err(CodeListError::Line {
                    path: path.to_owned(),
                    line: i + 1,
                    reason: format!("code {code} is listed twice"),
                });
            }
            codes.bits[usize::from(n / 64)] |= 1 << (n % 64);
            if !name.is_empty() {
                codes.names.insert(n, name.to_owned());
            }
            count += 1;
        }
        if count == 0 {
            return Err(CodeListError::Empty {
                path: path.to_owned(),
            });
        }
        Ok(codes)
    }

    fn contains_code(&self, n: u16) -> bool {
        n < 1000 && self.bits[usize::from(n / 64)] & (1 << (n % 64)) != 0
    }

    /// Whether `code` (exactly three digits) is in the register.
    pub fn contains(&self, code: &str) -> bool {
        let b = code.as_bytes();
        if b.len() != 3 || !b.iter().all(u8::is_ascii_digit) {
            return false;
        }
        let n = b.iter().fold(0u16, |acc, d| acc * 10 + u16::from(d - b'0'));
        self.contains_code(n)
    }

    /// The name the file gives a code, if any.
    pub fn name(&self, code: &str) -> Option<&str> {
        code.parse::<u16>()
            .ok()
            .and_then(|n| self.names.get(&n))
            .map(String::as_str)
    }

    /// Every code in the register, ascending, as 3-digit strings (for generators and docs).
    pub fn codes(&self) -> Vec<String> {
        (0u16..1000)
            .filter(|&n| self.contains_code(n))
            .map(|n| format!("{n:03}"))
            .collect()
    }

    pub fn len(&self) -> usize {
        self.bits.iter().map(|w| w.count_ones() as usize).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_list_parses_and_has_the_common_fields() {
        let c = MedicalFieldCodes::embedded();
        for code in [
            "003", "020", "101", "107", "201", "311", "421", "901", "931", "993",
        ] {
            assert!(c.contains(code), "{code}");
        }
        assert!(!c.contains("999"));
        assert!(!c.contains("10"));
        assert!(!c.contains("1010"));
        assert_eq!(c.name("101"), Some("Internmedicin"));
        assert!(c.codes().iter().any(|c| c.starts_with('9')));
    }

    /// The built-in list is the official Schematron's, code for code
    /// (`../shared/contract/medical-field-codes-official.txt`, copied into the test below).
    #[test]
    fn the_built_in_list_is_the_official_one() {
        let c = MedicalFieldCodes::embedded();
        assert_eq!(c.len(), 138);
        assert_eq!(
            c.codes().join(" "),
            OFFICIAL.split_whitespace().collect::<Vec<_>>().join(" ")
        );
        // Codes the earlier reconstruction had and the official file does not.
        for code in ["010", "030", "040", "050", "060"] {
            assert!(!c.contains(code), "{code}");
        }
    }

    const OFFICIAL: &str = "003 009 011 014 015 016 019 020 021 022 023 024 041 045 046 056 061 \
        076 086 096 100 101 105 107 108 109 111 121 131 141 142 151 156 161 171 181 201 203 206 \
        207 211 215 221 231 241 243 246 249 251 301 303 304 306 311 312 316 321 331 335 341 351 \
        361 371 401 411 412 413 421 431 441 451 511 515 521 531 532 541 551 552 553 561 564 565 \
        566 567 570 571 572 573 581 601 611 711 712 713 715 721 722 731 741 751 761 762 763 811 \
        821 831 832 841 845 851 881 882 883 892 893 894 895 896 901 906 928 931 943 944 945 948 \
        950 951 952 953 954 955 956 957 971 991 993";

    #[test]
    fn bad_lines_name_file_and_line() {
        let p = Path::new("codes.txt");
        let e = MedicalFieldCodes::parse("# c\n101 X\n\n10A Bad\n", p).unwrap_err();
        assert_eq!(
            e.to_string(),
            "codes.txt:4: '10A' is not a 3-digit medical field code"
        );
        let e = MedicalFieldCodes::parse("101\n101 again\n", p).unwrap_err();
        assert!(e.to_string().starts_with("codes.txt:2:"), "{e}");
        assert!(matches!(
            MedicalFieldCodes::parse("# nothing\n", p),
            Err(CodeListError::Empty { .. })
        ));
        let ok = MedicalFieldCodes::parse("101\t Internmedicin # comment\n999\n", p).unwrap();
        assert!(ok.contains("999") && ok.contains("101") && !ok.contains("107"));
        assert_eq!(ok.name("101"), Some("Internmedicin"));
    }
}
