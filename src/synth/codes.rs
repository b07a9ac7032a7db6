//! The code tables the generator draws from: municipalities per county, ICD-10-SE, KVÅ, ATC,
//! NordDRG, medical field codes, profession codes and price items.
//!
//! Why tables and not random strings: the documents feed the policy engine and end-to-end tests,
//! and a reader (or a rule) must see values that look like a region's real traffic — a
//! municipality that lies in the patient's county, a diagnosis that fits the clinic, a
//! psychiatric field code without diagnoses. The lists are small on purpose: enough variety to
//! exercise every path, few enough to review by eye.

/// Code systems (OIDs) the contract names.
pub mod oid {
    pub const PERSONNUMMER: &str = "1.2.752.129.2.1.3.1";
    pub const SAMORDNINGSNUMMER: &str = "1.2.752.129.2.1.3.3";
    /// A region's own OID for reservnummer (the contract's example).
    pub const RESERVNUMMER: &str = "1.2.752.97.3.1.3";
    pub const ORG_NUMBER: &str = "1.3.7";
    pub const GLN: &str = "2.51.1.6";
    pub const HSA: &str = "1.2.752.129.2.1.4.1";
    pub const COUNTY: &str = "1.2.752.129.2.2.1.18";
    pub const MUNICIPALITY: &str = "1.2.752.129.2.2.1.17";
    pub const GENDER: &str = "1.2.752.129.2.2.1.1";
    pub const TYPE_OF_CARE: &str = "1.2.752.29.4.16";
    pub const BUSINESS_CLASSIFICATION: &str = "1.2.752.129.2.2.1.3";
    pub const ICD10SE: &str = "1.2.752.116.1.1.1.1.3";
    pub const KVA: &str = "1.2.752.116.1.3.2.1.4";
    pub const ATC: &str = "1.2.752.129.2.2.3.1.1";
}

/// Some municipalities (SCB code, name) of each county, the county seat first. Every code starts
/// with its county's two digits, as SCB's codes do.
#[expect(
    clippy::too_many_lines,
    reason = "a data table, one row per municipality"
)]
pub fn municipalities(county: &str) -> &'static [(&'static str, &'static str)] {
    match county {
        "01" => &[
            ("0180", "Stockholm"),
            ("0184", "Solna"),
            ("0182", "Nacka"),
            ("0186", "Lidingö"),
            ("0126", "Huddinge"),
            ("0127", "Botkyrka"),
            ("0181", "Södertälje"),
            ("0183", "Sundbyberg"),
            ("0163", "Sollentuna"),
            ("0160", "Täby"),
        ],
        "03" => &[
            ("0380", "Uppsala"),
            ("0381", "Enköping"),
            ("0382", "Östhammar"),
            ("0360", "Tierp"),
        ],
        "04" => &[
            ("0480", "Nyköping"),
            ("0484", "Eskilstuna"),
            ("0486", "Strängnäs"),
            ("0483", "Katrineholm"),
        ],
        "05" => &[
            ("0580", "Linköping"),
            ("0581", "Norrköping"),
            ("0583", "Motala"),
            ("0584", "Vadstena"),
        ],
        "06" => &[
            ("0680", "Jönköping"),
            ("0682", "Nässjö"),
            ("0683", "Värnamo"),
            ("0686", "Eksjö"),
        ],
        "07" => &[("0780", "Växjö"), ("0781", "Ljungby"), ("0764", "Alvesta")],
        "08" => &[
            ("0880", "Kalmar"),
            ("0881", "Nybro"),
            ("0882", "Oskarshamn"),
            ("0883", "Västervik"),
        ],
        "09" => &[("0980", "Gotland")],
        "10" => &[
            ("1080", "Karlskrona"),
            ("1081", "Ronneby"),
            ("1082", "Karlshamn"),
        ],
        "12" => &[
            ("1280", "Malmö"),
            ("1281", "Lund"),
            ("1283", "Helsingborg"),
            ("1290", "Kristianstad"),
            ("1287", "Trelleborg"),
            ("1282", "Landskrona"),
        ],
        "13" => &[
            ("1380", "Halmstad"),
            ("1382", "Falkenberg"),
            ("1383", "Varberg"),
            ("1384", "Kungsbacka"),
        ],
        "14" => &[
            ("1480", "Göteborg"),
            ("1481", "Mölndal"),
            ("1490", "Borås"),
            ("1485", "Uddevalla"),
            ("1488", "Trollhättan"),
            ("1494", "Lidköping"),
        ],
        "17" => &[
            ("1780", "Karlstad"),
            ("1781", "Kristinehamn"),
            ("1784", "Arvika"),
        ],
        "18" => &[("1880", "Örebro"), ("1881", "Kumla"), ("1883", "Karlskoga")],
        "19" => &[("1980", "Västerås"), ("1983", "Köping"), ("1981", "Sala")],
        "20" => &[
            ("2080", "Falun"),
            ("2081", "Borlänge"),
            ("2085", "Ludvika"),
            ("2062", "Mora"),
        ],
        "21" => &[
            ("2180", "Gävle"),
            ("2181", "Sandviken"),
            ("2184", "Hudiksvall"),
        ],
        "22" => &[
            ("2281", "Sundsvall"),
            ("2280", "Härnösand"),
            ("2284", "Örnsköldsvik"),
        ],
        "23" => &[("2380", "Östersund"), ("2321", "Åre")],
        "24" => &[
            ("2480", "Umeå"),
            ("2482", "Skellefteå"),
            ("2481", "Lycksele"),
        ],
        "25" => &[
            ("2580", "Luleå"),
            ("2581", "Piteå"),
            ("2582", "Boden"),
            ("2584", "Kiruna"),
        ],
        _ => &[],
    }
}

/// A diagnosis (ICD-10-SE) with the KVÅ procedures and ATC drugs that go with it.
pub struct Condition {
    /// The medical field code of the clinic that treats it (see [`field::SOMATIC`]).
    pub field: &'static str,
    pub icd: &'static str,
    pub name: &'static str,
    pub kva: &'static [&'static str],
    pub atc: &'static [&'static str],
    /// NordDRG groups a stay with this main diagnosis falls into.
    pub drg: &'static [&'static str],
}

const fn c(
    field: &'static str,
    icd: &'static str,
    name: &'static str,
    kva: &'static [&'static str],
    atc: &'static [&'static str],
    drg: &'static [&'static str],
) -> Condition {
    Condition {
        field,
        icd,
        name,
        kva,
        atc,
        drg,
    }
}

/// Somatic care: what a medicine, surgery or orthopaedic clinic invoices.
pub const SOMATIC: &[Condition] = &[
    c(
        "107",
        "I50.9",
        "Hjärtsvikt, ospecificerad",
        &["AF037"],
        &["C07AB02", "C03CA01"],
        &["F62C", "F62B"],
    ),
    c(
        "107",
        "I21.4",
        "Akut subendokardiell myokardinfarkt",
        &["FNG05", "AF037"],
        &["B01AC06", "B01AC24"],
        &["F41B", "F10C"],
    ),
    c(
        "107",
        "I48.9",
        "Förmaksflimmer och förmaksfladder, ospecificerat",
        &["AF037", "FPB10"],
        &["B01AF01", "C07AB02"],
        &["F70C"],
    ),
    c(
        "101",
        "J18.9",
        "Pneumoni, ospecificerad",
        &["GDA00"],
        &["J01CE02", "J01DD04"],
        &["E62C", "E62B"],
    ),
    c(
        "101",
        "J44.1",
        "KOL med akut exacerbation",
        &["GDA00"],
        &["R03AC02", "H02AB06"],
        &["E65B"],
    ),
    c(
        "201",
        "K80.2",
        "Gallsten utan kolecystit",
        &["JKA21"],
        &["N02BE01"],
        &["H08C"],
    ),
    c(
        "201",
        "K35.8",
        "Akut appendicit, annan och ospecificerad",
        &["JEA01"],
        &["J01DD04"],
        &["G07C"],
    ),
    c(
        "311",
        "S72.0",
        "Fraktur på lårbenshalsen",
        &["NFB49", "NFJ59"],
        &["B01AB05", "N02BE01"],
        &["I03B", "I08C"],
    ),
    c(
        "311",
        "S52.5",
        "Fraktur på nedre delen av radius",
        &["NCJ62"],
        &["N02BE01"],
        &["I13C"],
    ),
    c(
        "311",
        "M17.1",
        "Primär gonartros, annan",
        &["NGB49"],
        &["N02BE01"],
        &["I04C"],
    ),
    c(
        "311",
        "M16.1",
        "Primär koxartros, annan",
        &["NFB49"],
        &["N02BE01"],
        &["I03C"],
    ),
    c(
        "151",
        "I63.9",
        "Cerebral infarkt, ospecificerad",
        &["AAF00"],
        &["B01AC06", "C10AA05"],
        &["B70C", "B70B"],
    ),
    c(
        "101",
        "N39.0",
        "Urinvägsinfektion utan angiven lokalisation",
        &[],
        &["J01EA01"],
        &["L63C"],
    ),
    c(
        "101",
        "E11.9",
        "Typ 2-diabetes utan komplikationer",
        &[],
        &["A10BA02"],
        &["K60C"],
    ),
    c(
        "101",
        "A09.9",
        "Gastroenterit och kolit av ospecificerat ursprung",
        &[],
        &["A07DA03"],
        &["G67C"],
    ),
    c(
        "151",
        "S06.0",
        "Hjärnskakning",
        &["AAF00"],
        &["N02BE01"],
        &["B79C"],
    ),
    c(
        "101",
        "L03.1",
        "Cellulit i extremitet",
        &[],
        &["J01CF05"],
        &["J64C"],
    ),
    c(
        "107",
        "R07.4",
        "Bröstsmärtor, ospecificerade",
        &["AF037"],
        &[],
        &["F74C"],
    ),
    c(
        "201",
        "C18.7",
        "Malign tumör i sigmoideum",
        &["JFB30"],
        &[],
        &["G03C"],
    ),
];

/// Secondary diagnoses commonly added to a main one.
pub const BI_DIAGNOSES: &[&str] = &[
    "E11.9", "I10.9", "E78.0", "J45.9", "F17.2", "N18.3", "Z92.1",
];

/// Abortion (Riksavtal 4.4): diagnosis and drugs.
pub const ABORTION_ICD: &str = "O04.9";
pub const ABORTION_ATC: &[&str] = &["G03XB01", "G02AD06"];
/// Counselling and contraception (reduced fee category 03).
pub const CONTRACEPTION_ICD: &[&str] = &["Z30.0", "Z30.4"];
pub const CONTRACEPTION_ATC: &[&str] = &["G03AC08", "G02BA03"];

/// Socialstyrelsen medical field codes ("medicinska verksamhetsområden") used by the generator.
/// Every code here is one of the 138 the official Schematron's R49 accepts (the register under
/// `schemas/`); a unit test checks that, and `tests/gen_official.rs` checks 5 000 generated bases.
/// Repeated entries weight the draw: most contacts are primary care and general psychiatry.
pub mod field {
    /// Somatic specialist fields with the clinic name they stand for.
    pub const SOMATIC: &[(&str, &str)] = &[
        ("101", "Medicinkliniken"),
        ("107", "Kardiologkliniken"),
        ("151", "Neurologkliniken"),
        ("201", "Kirurgkliniken"),
        ("311", "Ortopedkliniken"),
    ];
    pub const GYNAECOLOGY: (&str, &str) = ("421", "Kvinnokliniken");
    /// Counselling and contraception: a youth clinic under women's health care.
    pub const YOUTH_CLINIC: (&str, &str) = ("421", "Ungdomsmottagningen");
    /// Primary care: health centres, district nurses and the out-of-hours clinic.
    pub const PRIMARY_CARE: &[(&str, &str)] = &[
        ("020", "Vårdcentralen"),
        ("020", "Vårdcentralen"),
        ("020", "Distriktssköterskemottagningen"),
        ("011", "Närakuten"),
    ];
    /// Psychiatry: codes starting with 9 (ÖR33).
    pub const PSYCHIATRY: &[(&str, &str)] = &[
        ("901", "Psykiatriska kliniken"),
        ("901", "Psykiatriska kliniken"),
        ("931", "Barn- och ungdomspsykiatrin"),
        ("971", "Psykosmottagningen"),
    ];

    /// The clinic of a somatic field code.
    pub fn somatic(code: &str) -> (&'static str, &'static str) {
        SOMATIC
            .iter()
            .copied()
            .find(|(c, _)| *c == code)
            .unwrap_or(SOMATIC[0])
    }
}

/// Profession codes (ÖR22) used on outpatient lines, by how often they appear.
pub const PROFESSIONS_SPECIALIST: &[&str] = &["LK", "LK", "LK", "SJ", "SJ", "FT", "AT", "US"];
pub const PROFESSIONS_PRIMARY: &[&str] = &["LK", "LK", "SJ", "SJ", "DT", "FT"];
pub const PROFESSIONS_PSYCHIATRY: &[&str] = &["LK", "PS", "SJ", "KP"];
pub const PROFESSIONS_MIDWIFE: &[&str] = &["BM", "BM", "LK"];

/// A price-list item for patient-specific pricing: code, name, price range in kronor.
pub struct PriceItem {
    pub code: &'static str,
    pub name: &'static str,
    pub min: i64,
    pub max: i64,
}

const fn p(code: &'static str, name: &'static str, min: i64, max: i64) -> PriceItem {
    PriceItem {
        code,
        name,
        min,
        max,
    }
}

pub const ITEMS_SPECIALIST: &[PriceItem] = &[
    p("BES01", "Läkarbesök specialist", 1800, 3200),
    p("BES02", "Återbesök läkare specialist", 1200, 2200),
    p("SSK01", "Sjuksköterskebesök", 600, 950),
    p("EKO01", "Ekokardiografi", 2500, 4000),
    p("RTG01", "Slätröntgen", 800, 1500),
    p("DT01", "Datortomografi", 2800, 4500),
    p("MR01", "Magnetkameraundersökning", 4000, 6500),
    p("LAB01", "Laboratorieanalyser", 150, 900),
    p("FYS01", "Fysioterapibesök", 700, 1100),
    p("DAG01", "Dagkirurgiskt ingrepp", 8000, 25000),
];
pub const ITEMS_PRIMARY: &[PriceItem] = &[
    p("PV01", "Läkarbesök primärvård", 1500, 2200),
    p("PV02", "Sjuksköterskebesök primärvård", 500, 800),
    p("PV03", "Distriktssköterskebesök", 450, 750),
];
pub const ITEMS_PSYCHIATRY: &[PriceItem] = &[
    p("PSY01", "Psykiaterbesök", 2500, 3500),
    p("PSY02", "Psykologbesök", 1500, 2200),
    p("PSY03", "Sjuksköterskebesök psykiatri", 800, 1200),
];
/// Per-day price of a psychiatric stay (invoiced per period, no DRG).
pub const ITEM_PSYCHIATRY_DAY: PriceItem =
    p("PSYVD", "Vårddygn psykiatrisk slutenvård", 7000, 9500);
pub const ITEM_ABORTION: PriceItem = p("ABM01", "Medicinsk abort", 4000, 6500);
pub const ITEM_CONTRACEPTION: PriceItem = p("UM01", "Preventivmedelsrådgivning", 600, 900);
/// Extras on a DRG-priced stay.
pub const ITEMS_INPATIENT_EXTRA: &[PriceItem] = &[
    p("IVA01", "Intensivvårdsdygn", 25000, 40000),
    p("IMP01", "Implantat", 10000, 60000),
    p("LKM01", "Särläkemedel", 2000, 15000),
];

/// Clinic name prefixes for outpatient receptions (combined with a town name).
pub const RECEPTIONS: &[&str] = &["Mottagningen", "Specialistmottagningen", "Dagsjukvården"];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validate::rules::MedicalFieldCodes;

    #[test]
    fn every_medical_field_code_is_in_the_register() {
        let register = MedicalFieldCodes::embedded();
        let mut all: Vec<&str> = field::SOMATIC.iter().map(|f| f.0).collect();
        all.extend(field::PSYCHIATRY.iter().map(|f| f.0));
        all.extend(field::PRIMARY_CARE.iter().map(|f| f.0));
        all.extend([field::GYNAECOLOGY.0, field::YOUTH_CLINIC.0]);
        all.extend(SOMATIC.iter().map(|c| c.field));
        for code in all {
            assert!(
                register.contains(code),
                "{code} not in schemas/medical-field-codes.txt"
            );
        }
        assert!(field::PSYCHIATRY.iter().all(|f| f.0.starts_with('9')));
        assert!(SOMATIC.iter().all(|c| !c.field.starts_with('9')));
    }

    #[test]
    fn municipalities_lie_in_their_county() {
        for r in crate::claim::regions::REGIONS {
            let list = municipalities(r.county);
            assert!(!list.is_empty(), "{}", r.name);
            for (code, _) in list {
                assert_eq!(code.len(), 4);
                assert!(code.starts_with(r.county), "{code} in {}", r.county);
            }
        }
    }
}
