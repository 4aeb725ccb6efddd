//! Prices from MLiy's 2019 ec2instances.info snapshot: the index holds exactly what the file
//! writes, for every type, region and platform, and `mliy pricing` answers from it.

use super::fixtures;
use mliy::pricing::{PriceIndex, PriceSource};
use serde_json::Value;

const FILE: &str = "ec2instances_info_2019-02.json";

#[test]
fn every_on_demand_price_of_the_fixture_as_written() {
    let bytes = std::fs::read(fixtures::path(FILE)).unwrap();
    let index = PriceIndex::from_slice(&bytes, &[]).unwrap();
    let doc: Value = serde_json::from_slice(&bytes).unwrap();
    let mut checked = 0;
    for entry in doc.as_array().unwrap() {
        let ty = entry["instance_type"].as_str().unwrap();
        for (region, platforms) in entry["pricing"].as_object().unwrap() {
            for (platform, prices) in platforms.as_object().unwrap() {
                let Some(written) = prices["ondemand"].as_str() else { continue };
                let got = index.on_demand(region, ty, platform).map(|p| p.to_string());
                match written.parse::<f64>() {
                    Ok(_) => assert_eq!(got.unwrap(), written, "{ty} {platform} {region}"),
                    Err(_) => assert!(got.is_err(), "{ty} {platform} {region}: {written:?} is no price"),
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 2_500, "{checked}");
    // The 2019 snapshot has no EMR prices and no t3/m5/r5 types: errors, never 0.
    assert!(index.emr("us-east-1", "m4.large").is_err());
    assert!(index.on_demand("us-east-1", "m5.xlarge", "linux").is_err());
    // Streaming with a region filter keeps that region only.
    let one = PriceIndex::load(&fixtures::path(FILE), &["eu-west-1"]).unwrap();
    assert_eq!(one.regions().collect::<Vec<_>>(), ["eu-west-1"]);
    assert_eq!(
        one.on_demand("eu-west-1", "m4.large", "linux").unwrap(),
        index.on_demand("eu-west-1", "m4.large", "linux").unwrap()
    );
}

#[cfg(feature = "cli")]
#[test]
fn mliy_pricing_answers_and_refuses_with_json() {
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_mliy"))
            .args(["pricing", "--prices", fixtures::path(FILE).to_str().unwrap(), "--json"])
            .args(args)
            .output()
            .unwrap();
        (out.status.code(), serde_json::from_slice::<Value>(&out.stdout).unwrap())
    };
    let (code, json) = run(&["--region", "us-east-1", "--type", "m4.large"]);
    assert_eq!(code, Some(0), "{json}");
    assert_eq!((json["type"].as_str(), json["platform"].as_str()), (Some("m4.large"), Some("linux")));
    let expected =
        PriceIndex::load(&fixtures::path(FILE), &[]).unwrap().on_demand("us-east-1", "m4.large", "linux").unwrap();
    assert_eq!(json["ondemand_hourly"].as_str(), Some(expected.to_string().as_str()));
    assert_eq!(json["emr_hourly"], Value::Null);
    for args in [["--region", "us-east-1", "--type", "m9.huge"], ["--region", "mars-1", "--type", "m4.large"]] {
        let (code, json) = run(&args);
        assert_eq!((code, json["error"]["kind"].as_str()), (Some(2), Some("not_found")), "{json}");
    }
    let (code, json) = run(&["--region", "us-east-1", "--type", "m4.large", "--emr"]);
    assert_eq!(code, Some(2), "the 2019 file has no EMR prices: {json}");
}
