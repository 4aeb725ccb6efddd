//! `Route53Dns` against moto's Route53: records checked from outside with boto3.

use super::moto::Moto;
use mliy::dns::DnsProvider;
use mliy::plugins::aws::AwsOptions;
use mliy::plugins::route53::Route53Dns;
use mliy::secret::Secret;
use mliy::testkit::dns::DnsLookup;
use std::time::Duration;

fn options(moto: &Moto) -> AwsOptions {
    AwsOptions::new().region("us-east-1").endpoint_url(&moto.url).credentials("testing", Secret::new("testing"))
}

/// The A records of `zone`, as boto3 lists them: name → values.
fn records(moto: &Moto, zone: &str) -> String {
    moto.boto3(&format!(
        "r53 = boto3.client('route53', **kw)\n\
         zone = [z for z in r53.list_hosted_zones()['HostedZones'] if z['Name'] == '{zone}.'][0]['Id']\n\
         sets = r53.list_resource_record_sets(HostedZoneId=zone)['ResourceRecordSets']\n\
         print(json.dumps(sorted([s['Name'], s.get('TTL'), [r['Value'] for r in s['ResourceRecords']]] \
         for s in sets if s['Type'] == 'A')))\n"
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn route53_records_are_made_moved_and_deleted() {
    let Some(moto) = Moto::start() else { return };
    moto.boto3(
        "boto3.client('route53', **kw).create_hosted_zone(Name='analytics.example.test', CallerReference='t1')\n",
    );
    let dns = Route53Dns::connect(options(&moto), "analytics.example.test")
        .await
        .unwrap()
        .ttl(60)
        .wait_for_sync(Some(Duration::from_millis(20)));
    let name = dns.display_name("0123456789ab", "10.0.0.5").unwrap();
    assert_eq!(name, "mliy-0123456789ab.analytics.example.test");
    dns.upsert(&name, "10.0.0.5").await.unwrap();
    assert_eq!(
        records(&moto, "analytics.example.test").trim(),
        r#"[["mliy-0123456789ab.analytics.example.test.", 60, ["10.0.0.5"]]]"#
    );
    dns.upsert(&name, "10.0.0.6").await.unwrap();
    assert!(records(&moto, "analytics.example.test").contains("10.0.0.6"), "moved");
    dns.delete(&name, "10.0.0.6").await.unwrap();
    assert_eq!(records(&moto, "analytics.example.test").trim(), "[]");
    dns.delete(&name, "10.0.0.6").await.unwrap();

    let nowhere = Route53Dns::connect(options(&moto), "no-such-zone.test").await.unwrap();
    let e = nowhere.upsert("mliy-x.no-such-zone.test", "10.0.0.7").await.unwrap_err();
    assert_eq!(e.kind(), "not_found", "{e}");
    assert!(Route53Dns::connect(options(&moto), " ").await.is_err());
}

/// The zone as boto3 lists it from moto.
struct Listed<'a>(&'a Moto, &'a str);

#[async_trait::async_trait]
impl DnsLookup for Listed<'_> {
    async fn resolve(&self, name: &str) -> Option<String> {
        let sets: Vec<(String, Option<u64>, Vec<String>)> =
            serde_json::from_str(records(self.0, self.1).trim()).unwrap();
        sets.into_iter()
            .find(|(n, ..)| n.trim_end_matches('.') == name)
            .and_then(|(_, _, values)| values.first().cloned())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn route53_passes_the_dns_suite() {
    let Some(moto) = Moto::start() else { return };
    moto.boto3("boto3.client('route53', **kw).create_hosted_zone(Name='suite.example.test', CallerReference='t2')\n");
    let dns = Route53Dns::connect(options(&moto), "suite.example.test").await.unwrap();
    mliy::testkit::dns::run_all(&dns, &Listed(&moto, "suite.example.test")).await;
}
