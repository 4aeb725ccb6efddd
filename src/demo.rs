//! The example catalog of `examples/catalog/`, compiled in: for the quickstart, `mliy sim`
//! and the benchmarks, so they run from anywhere.

use mliy_core::error::{Error, Result};
use mliy_core::model::{Catalog, Source};

const CATALOG: &str = include_str!("../examples/catalog/catalog.yaml");
const FILES: &[(&str, &str)] = &[
    ("instance.yaml", include_str!("../examples/catalog/instance.yaml")),
    ("cluster.yaml", include_str!("../examples/catalog/cluster.yaml")),
    ("userdata.sh", include_str!("../examples/catalog/userdata.sh")),
];

/// On-demand prices (us-east-1, ec2instances.info's format) of the example's instance types,
/// for demos: `examples/catalog/prices.json`.
pub const PRICES: &str = include_str!("../examples/catalog/prices.json");

/// [`PRICES`] as an engine's pricing, in us-east-1.
///
/// # Errors
/// Only if the example file was edited into something invalid.
pub fn pricing() -> Result<mliy_core::pricing::Pricing> {
    let index = mliy_core::pricing::PriceIndex::from_slice(PRICES.as_bytes(), &["us-east-1"])?;
    Ok(mliy_core::pricing::Pricing::new(std::sync::Arc::new(index), "us-east-1"))
}

/// The example catalog with its templates and script inline.
///
/// # Errors
/// Only if the example files were edited into something invalid.
pub fn catalog() -> Result<Catalog> {
    let mut catalog = Catalog::from_yaml_str(CATALOG)?;
    for sc in &mut catalog.software_configs {
        for source in [&mut sc.template, &mut sc.user_data].into_iter().flatten() {
            let Some(path) = source.path.as_ref().and_then(|p| p.to_str()) else { continue };
            let (_, text) = FILES
                .iter()
                .find(|(name, _)| *name == path)
                .ok_or_else(|| Error::validation("examples/catalog", path, "must be one of the example's files"))?;
            *source = Source::inline(*text);
        }
    }
    Ok(catalog)
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_demo_catalog_plans() {
        let planner = mliy_core::plan::Planner::new(super::catalog().unwrap()).unwrap();
        assert!(planner.template("notebook").is_some() && planner.template("spark").is_some());
    }

    #[test]
    fn the_demo_prices_cover_every_instance_type_of_the_catalog() {
        use mliy_core::pricing::LINUX;
        let pricing = super::pricing().unwrap();
        for ty in super::catalog().unwrap().instance_types {
            assert!(pricing.source.on_demand("us-east-1", &ty.name, LINUX).is_ok(), "{}", ty.name);
        }
    }
}
