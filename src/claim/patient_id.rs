//! The normal form of a patient identifier, shared by everything that compares or hashes one.

/// A personal or coordination number as the exchange compares and hashes it: ASCII letters and
/// digits only, upper-cased, so `19121212-1212`, `191212121212` and ` 19121212 1212 ` are one
/// patient. The disclosure log's keyed hashes (`audit::keys::PatientKey`) and a policy's
/// protected identities (`policy::file`) both use it, so a protected patient is found however
/// the sender wrote the number.
pub fn normalise_patient_id(id: &str) -> String {
    id.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separators_spaces_and_case_do_not_make_another_patient() {
        for written in ["19121212-1212", " 19121212 1212 ", "191212121212"] {
            assert_eq!(normalise_patient_id(written), "191212121212", "{written:?}");
        }
        assert_eq!(normalise_patient_id("ab-12"), "AB12");
    }
}
