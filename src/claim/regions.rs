//! The 21 Swedish regions: SCB county code, name and organisation number.
//!
//! Several parts need the same table: the generator picks suppliers and customers from it, the
//! development PKI names each region's certificate by its organisation number (the identity the
//! broker and the stores use), and deployments map a county code given on a command line
//! (`--regions 01,13,14`) to the organisation number that routes. Keeping it in one place keeps
//! those in agreement.

/// One region.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    /// Two-digit SCB county code (`01` Stockholm … `25` Norrbotten).
    pub county: &'static str,
    pub name: &'static str,
    /// Ten digits, no hyphen: the logical address and the broker user.
    pub org: &'static str,
}

/// Every region, in county-code order. Region Gotland is a municipality with regional
/// responsibility, hence its organisation number outside the 232100- series.
#[rustfmt::skip]
pub const REGIONS: [Region; 21] = [
    Region { county: "01", name: "Region Stockholm", org: "2321000016" },
    Region { county: "03", name: "Region Uppsala", org: "2321000024" },
    Region { county: "04", name: "Region Sörmland", org: "2321000032" },
    Region { county: "05", name: "Region Östergötland", org: "2321000040" },
    Region { county: "06", name: "Region Jönköpings län", org: "2321000057" },
    Region { county: "07", name: "Region Kronoberg", org: "2321000065" },
    Region { county: "08", name: "Region Kalmar län", org: "2321000073" },
    Region { county: "09", name: "Region Gotland", org: "2120000803" },
    Region { county: "10", name: "Region Blekinge", org: "2321000081" },
    Region { county: "12", name: "Region Skåne", org: "2321000255" },
    Region { county: "13", name: "Region Halland", org: "2321000115" },
    Region { county: "14", name: "Västra Götalandsregionen", org: "2321000131" },
    Region { county: "17", name: "Region Värmland", org: "2321000156" },
    Region { county: "18", name: "Region Örebro län", org: "2321000164" },
    Region { county: "19", name: "Region Västmanland", org: "2321000172" },
    Region { county: "20", name: "Region Dalarna", org: "2321000180" },
    Region { county: "21", name: "Region Gävleborg", org: "2321000198" },
    Region { county: "22", name: "Region Västernorrland", org: "2321000206" },
    Region { county: "23", name: "Region Jämtland Härjedalen", org: "2321000214" },
    Region { county: "24", name: "Region Västerbotten", org: "2321000222" },
    Region { county: "25", name: "Region Norrbotten", org: "2321000230" },
];

/// The region with this county code (`"13"`) or organisation number (`"2321000115"`).
pub fn region(county_or_org: &str) -> Option<&'static Region> {
    REGIONS
        .iter()
        .find(|r| r.county == county_or_org || r.org == county_or_org)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_by_county_or_org() {
        assert_eq!(region("13").unwrap().org, "2321000115");
        assert_eq!(region("2321000016").unwrap().county, "01");
        assert!(region("02").is_none());
    }
}
