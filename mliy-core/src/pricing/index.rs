//! [`PriceIndex`]: ec2instances.info's `instances.json`, read in one pass.
//!
//! The file is a list of instance types, each with `pricing: {region: {key: value}}`. Most
//! keys are platforms (`linux`, `mswin`, …) holding `{"ondemand": "0.108", "reserved": {…},
//! "spot_avg": "…"}`; the same map holds keys of other shapes (`"emr": {"emr": "0.027"}`, the
//! EMR surcharge; `"ebs": "…"`, a plain string; `"dedicated"`). Everything but the on-demand
//! and EMR prices of the regions asked for is skipped as it is read, so a file of hundreds of
//! megabytes is streamed without being held.

use super::{Decimal, PriceSource};
use crate::error::{Error, Result};
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;

/// One type's prices in one region.
#[derive(Debug, Clone, Default, PartialEq)]
struct TypePrices {
    /// On-demand hourly price by platform (a handful: a list is quicker than a map).
    on_demand: Vec<(Box<str>, Decimal)>,
    /// EMR's surcharge.
    emr: Option<Decimal>,
}

/// FNV-1a: the keys are short names from the admin's price file, and a lookup should cost
/// tens of nanoseconds (SipHash, the default, is built to resist hostile keys instead).
#[derive(Debug, Clone, Copy)]
struct Fnv(u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl std::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

type Map<V> = HashMap<Box<str>, V, std::hash::BuildHasherDefault<Fnv>>;

/// Prices by region, then instance type.
#[derive(Debug, Clone, Default)]
pub struct PriceIndex {
    regions: Map<Map<TypePrices>>,
}

impl PriceIndex {
    /// Reads an `instances.json` held in memory, keeping `regions` (every region when empty).
    ///
    /// # Errors
    /// [`Error::Parse`] for text that is not that format, naming where.
    pub fn from_slice(bytes: &[u8], regions: &[&str]) -> Result<PriceIndex> {
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let index = PriceIndex::read(&mut de, regions)?;
        de.end().map_err(parse_error)?;
        Ok(index)
    }

    /// Streams an `instances.json` from `reader` (buffer it), keeping `regions`.
    ///
    /// # Errors
    /// As [`PriceIndex::from_slice`], and the reader's errors as [`Error::Parse`].
    pub fn from_reader(reader: impl std::io::Read, regions: &[&str]) -> Result<PriceIndex> {
        let mut de = serde_json::Deserializer::from_reader(reader);
        let index = PriceIndex::read(&mut de, regions)?;
        de.end().map_err(parse_error)?;
        Ok(index)
    }

    /// Streams the file at `path` (see [`PriceIndex::from_reader`]).
    ///
    /// # Errors
    /// [`Error::Io`] when it cannot be opened; as [`PriceIndex::from_reader`].
    pub fn load(path: &std::path::Path, regions: &[&str]) -> Result<PriceIndex> {
        let file = std::fs::File::open(path).map_err(|source| Error::Io { path: path.to_path_buf(), source })?;
        PriceIndex::from_reader(std::io::BufReader::with_capacity(1 << 16, file), regions)
    }

    fn read<'de, D: Deserializer<'de>>(de: D, regions: &[&str]) -> Result<PriceIndex>
    where
        D::Error: Into<serde_json::Error>,
    {
        let mut index = PriceIndex::default();
        List { wanted: regions, index: &mut index }.deserialize(de).map_err(|e| parse_error(e.into()))?;
        Ok(index)
    }

    /// The regions held.
    pub fn regions(&self) -> impl Iterator<Item = &str> {
        self.regions.keys().map(|k| &**k)
    }

    fn prices(&self, region: &str, instance_type: &str) -> Result<&TypePrices> {
        let types =
            self.regions.get(region).ok_or_else(|| Error::NotFound { kind: "price region", name: region.into() })?;
        types.get(instance_type).ok_or_else(|| Error::NotFound {
            kind: "instance type price",
            name: format!("{instance_type} in {region}"),
        })
    }
}

impl PriceSource for PriceIndex {
    fn on_demand(&self, region: &str, instance_type: &str, platform: &str) -> Result<Decimal> {
        let prices = &self.prices(region, instance_type)?.on_demand;
        prices.iter().find(|(p, _)| &**p == platform).map(|(_, d)| *d).ok_or_else(|| Error::NotFound {
            kind: "platform price",
            name: format!("{instance_type} on {platform} in {region}"),
        })
    }

    fn emr(&self, region: &str, instance_type: &str) -> Result<Decimal> {
        self.prices(region, instance_type)?
            .emr
            .ok_or_else(|| Error::NotFound { kind: "EMR price", name: format!("{instance_type} in {region}") })
    }
}

fn parse_error(e: serde_json::Error) -> Error {
    Error::parse("instances.json", e.to_string())
}

/// A price as the file writes it; `None` for what is not one (`""`, `"N/A"`).
fn price(text: &str) -> Option<Decimal> {
    Decimal::from_str(text.trim()).ok().filter(|d| !d.is_sign_negative())
}

/// The top-level list of instance types.
struct List<'a> {
    wanted: &'a [&'a str],
    index: &'a mut PriceIndex,
}

impl<'de> DeserializeSeed<'de> for List<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, de: D) -> std::result::Result<(), D::Error> {
        de.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for List<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of instance types")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<(), A::Error> {
        while let Some((name, regions)) = seq.next_element_seed(Entry { wanted: self.wanted })? {
            for (region, prices) in regions {
                self.index.regions.entry(region.into()).or_default().insert(name.as_str().into(), prices);
            }
        }
        Ok(())
    }
}

/// One instance type: its name and its prices in the wanted regions.
struct Entry<'a> {
    wanted: &'a [&'a str],
}

impl<'de> DeserializeSeed<'de> for Entry<'_> {
    type Value = (String, Vec<(String, TypePrices)>);
    fn deserialize<D: Deserializer<'de>>(self, de: D) -> std::result::Result<Self::Value, D::Error> {
        de.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Entry<'_> {
    type Value = (String, Vec<(String, TypePrices)>);
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an instance type with instance_type and pricing")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Self::Value, A::Error> {
        let (mut name, mut regions) = (None, Vec::new());
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match &*key {
                "instance_type" => name = Some(map.next_value::<String>()?),
                "pricing" => regions = map.next_value_seed(Regions { wanted: self.wanted })?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        let name = name.ok_or_else(|| serde::de::Error::missing_field("instance_type"))?;
        Ok((name, regions))
    }
}

/// `pricing`: region → its keys.
struct Regions<'a> {
    wanted: &'a [&'a str],
}

impl<'de> DeserializeSeed<'de> for Regions<'_> {
    type Value = Vec<(String, TypePrices)>;
    fn deserialize<D: Deserializer<'de>>(self, de: D) -> std::result::Result<Self::Value, D::Error> {
        de.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Regions<'_> {
    type Value = Vec<(String, TypePrices)>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map of regions")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Self::Value, A::Error> {
        let mut out = Vec::new();
        while let Some(region) = map.next_key::<String>()? {
            if self.wanted.is_empty() || self.wanted.contains(&region.as_str()) {
                out.push((region, map.next_value_seed(RegionPrices)?));
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(out)
    }
}

/// One region's keys: platforms and the other shapes.
struct RegionPrices;

impl<'de> DeserializeSeed<'de> for RegionPrices {
    type Value = TypePrices;
    fn deserialize<D: Deserializer<'de>>(self, de: D) -> std::result::Result<TypePrices, D::Error> {
        de.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RegionPrices {
    type Value = TypePrices;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a region's prices")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<TypePrices, A::Error> {
        let mut prices = TypePrices::default();
        while let Some(key) = map.next_key::<String>()? {
            let wanted = if key == "emr" { "emr" } else { "ondemand" };
            let Some(found) = map.next_value_seed(Field { wanted })? else { continue };
            if key == "emr" {
                prices.emr = Some(found);
            } else {
                prices.on_demand.push((key.into(), found));
            }
        }
        Ok(prices)
    }
}

/// The price under `wanted` in a map value; nothing for a value of another shape.
struct Field {
    wanted: &'static str,
}

impl<'de> DeserializeSeed<'de> for Field {
    type Value = Option<Decimal>;
    fn deserialize<D: Deserializer<'de>>(self, de: D) -> std::result::Result<Option<Decimal>, D::Error> {
        de.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Field {
    type Value = Option<Decimal>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a platform's prices, or another value")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Option<Decimal>, A::Error> {
        let mut found = None;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if key == self.wanted {
                found = map.next_value::<std::borrow::Cow<'de, str>>().ok().and_then(|t| price(&t));
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }
    fn visit_str<E: serde::de::Error>(self, _: &str) -> std::result::Result<Option<Decimal>, E> {
        Ok(None)
    }
    fn visit_unit<E: serde::de::Error>(self) -> std::result::Result<Option<Decimal>, E> {
        Ok(None)
    }
    fn visit_bool<E: serde::de::Error>(self, _: bool) -> std::result::Result<Option<Decimal>, E> {
        Ok(None)
    }
    fn visit_f64<E: serde::de::Error>(self, _: f64) -> std::result::Result<Option<Decimal>, E> {
        Ok(None)
    }
    fn visit_u64<E: serde::de::Error>(self, _: u64) -> std::result::Result<Option<Decimal>, E> {
        Ok(None)
    }
    fn visit_i64<E: serde::de::Error>(self, _: i64) -> std::result::Result<Option<Decimal>, E> {
        Ok(None)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Option<Decimal>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Today's format, abridged: platforms with reserved and spot prices, and the keys of
    /// other shapes in the same map.
    const TODAY: &str = r#"[
      {"instance_type": "m5.xlarge", "vCPU": 4, "pricing": {
        "us-east-1": {
          "linux": {"ondemand": "0.192", "reserved": {"yrTerm1Standard.noUpfront": "0.121"},
                    "spot_min": "0.0351", "spot_avg": "0.0412", "spot_max": "0.0590"},
          "mswin": {"ondemand": "0.376"},
          "emr": {"emr": "0.048"},
          "ebs": "0.10",
          "dedicated": {"ondemand": "0.211"},
          "rhel": {"ondemand": "N/A"}
        },
        "eu-west-1": {"linux": {"ondemand": "0.214"}, "emr": {"emr": "0.053"}}
      }},
      {"pricing": {"us-east-1": {"linux": {"ondemand": "13.3"}}}, "instance_type": "x1e.32xlarge"}
    ]"#;

    #[test]
    fn todays_format_with_keys_of_other_shapes() {
        let index = PriceIndex::from_slice(TODAY.as_bytes(), &[]).unwrap();
        assert_eq!(index.on_demand("us-east-1", "m5.xlarge", "linux").unwrap().to_string(), "0.192");
        assert_eq!(index.emr("us-east-1", "m5.xlarge").unwrap().to_string(), "0.048");
        assert_eq!(index.on_demand("eu-west-1", "m5.xlarge", "linux").unwrap().to_string(), "0.214");
        // Shown as the file writes it, never "1.3e+01".
        assert_eq!(index.on_demand("us-east-1", "x1e.32xlarge", "linux").unwrap().to_string(), "13.3");
        assert!(
            matches!(index.on_demand("us-east-1", "m5.xlarge", "rhel"), Err(Error::NotFound { .. })),
            "N/A is no price"
        );
        assert!(matches!(index.emr("us-east-1", "x1e.32xlarge"), Err(Error::NotFound { .. })));
    }

    #[test]
    fn only_the_regions_asked_for_are_kept() {
        let index = PriceIndex::from_reader(TODAY.as_bytes(), &["eu-west-1"]).unwrap();
        assert_eq!(index.regions().collect::<Vec<_>>(), ["eu-west-1"]);
        let e = index.on_demand("us-east-1", "m5.xlarge", "linux").unwrap_err();
        assert!(matches!(&e, Error::NotFound { kind: "price region", name } if name == "us-east-1"), "{e}");
        let e = index.on_demand("eu-west-1", "t9.nano", "linux").unwrap_err();
        assert!(e.to_string().contains("t9.nano in eu-west-1"), "{e}");
    }

    #[test]
    fn what_is_not_the_format_is_a_parse_error() {
        for bad in ["{}", "[{\"pricing\": {}}]", "[1]", "[", "[] trailing"] {
            let e = PriceIndex::from_slice(bad.as_bytes(), &[]).unwrap_err();
            assert!(matches!(e, Error::Parse { .. }), "{bad}: {e}");
        }
    }
}
