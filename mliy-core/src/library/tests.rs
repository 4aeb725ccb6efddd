use super::*;
use crate::clock::Timestamp;
use crate::model::Catalog;
use crate::objects::MemoryObjects;
use std::path::Path;

const TEMPLATE: &str = "Parameters: {KeyName: {Type: String}}\nResources: {Box: {Type: AWS::EC2::Instance}}\n";

fn source() -> MemoryObjects {
    let s3 = MemoryObjects::with_page_size(2);
    let put = |k: &str, v: &str| s3.put("mliy-catalog", k, v.as_bytes(), Timestamp(0));
    put(
        "cf/ec2/MLiy.json",
        r#"{"Parameters": {"A": {"Type": "String"}}, "Resources": {"B": {"Type": "AWS::S3::Bucket"}}}"#,
    );
    put(
        "cf/emr/MLiy.json",
        r#"{"Parameters": {"C": {"Type": "String"}}, "Resources": {"D": {"Type": "AWS::EMR::Cluster"}}}"#,
    );
    put("cf/ec2/notebook.yaml", TEMPLATE);
    put("cf/scripts/userdata.sh", "#!/bin/bash\necho {{{SOURCE_BUCKET}}} {{{LDAP_HOST}}}\n");
    put("cf/README.md", "not a document");
    put("cf_other/x.json", TEMPLATE);
    s3
}

async fn run(s3: &MemoryObjects, lib: &mut Library, in_use: &[&str], options: SyncOptions) -> SyncReport {
    let from = S3Location::parse("from", "s3://mliy-catalog/cf").unwrap();
    let in_use = in_use.iter().map(|s| s.to_string()).collect();
    sync(s3, &from, lib, &in_use, options).await.unwrap()
}

fn keys(entries: &[LibraryEntry]) -> Vec<&str> {
    entries.iter().map(|e| e.key.as_str()).collect()
}

#[tokio::test]
async fn a_second_sync_downloads_nothing_and_a_change_is_picked_up_by_its_etag() {
    let (s3, dir) = (source(), tempfile::tempdir().unwrap());
    let mut lib = Library::open(dir.path().join("library")).unwrap();
    let first = run(&s3, &mut lib, &[], SyncOptions::default()).await;
    assert_eq!(keys(&first.added), ["ec2/MLiy.json", "ec2/notebook.yaml", "emr/MLiy.json", "scripts/userdata.sh"]);
    assert_eq!((first.downloads, s3.downloads()), (4, 4));
    assert_eq!(first.added[3].tokens, ["LDAP_HOST", "SOURCE_BUCKET"]);
    assert_eq!(first.added[0].parameters, ["A"]);
    assert!(dir.path().join("library/ec2/MLiy.json").exists() && dir.path().join("library/emr/MLiy.json").exists());

    let mut reopened = Library::open(dir.path().join("library")).unwrap();
    let second = run(&s3, &mut reopened, &[], SyncOptions::default()).await;
    assert_eq!((second.downloads, s3.downloads(), second.unchanged.len()), (0, 4, 4));

    s3.put("mliy-catalog", "cf/ec2/notebook.yaml", TEMPLATE.replace("KeyName", "KeyPair"), Timestamp(1));
    let third = run(&s3, &mut reopened, &[], SyncOptions::default()).await;
    assert_eq!((keys(&third.changed), third.downloads), (vec!["ec2/notebook.yaml"], 1));
    assert_eq!(third.changed[0].parameters, ["KeyPair"]);
    let text = std::fs::read_to_string(dir.path().join("library/ec2/notebook.yaml")).unwrap();
    assert!(text.contains("KeyPair"));
}

#[tokio::test]
async fn removed_files_are_reported_and_pruned_only_when_asked_and_not_in_use() {
    let (s3, dir) = (source(), tempfile::tempdir().unwrap());
    let mut lib = Library::open(dir.path()).unwrap();
    run(&s3, &mut lib, &[], SyncOptions::default()).await;
    s3.delete("mliy-catalog", "cf/ec2/MLiy.json");
    s3.delete("mliy-catalog", "cf/emr/MLiy.json");
    let kept = run(&s3, &mut lib, &[], SyncOptions::default()).await;
    assert_eq!((kept.missing.len(), kept.removed.len()), (2, 0));
    assert!(lib.entry("ec2/MLiy.json").is_some());

    let dry = run(&s3, &mut lib, &[], SyncOptions { dry_run: true, prune: true }).await;
    assert_eq!(dry.removed, ["ec2/MLiy.json", "emr/MLiy.json"]);
    assert!(dir.path().join("ec2/MLiy.json").exists(), "a dry run removes nothing");

    let pruned = run(&s3, &mut lib, &["emr/MLiy.json"], SyncOptions { dry_run: false, prune: true }).await;
    assert_eq!(
        (pruned.removed.clone(), pruned.kept_in_use.clone()),
        (vec!["ec2/MLiy.json".to_string()], vec!["emr/MLiy.json".to_string()])
    );
    assert!(!dir.path().join("ec2/MLiy.json").exists() && dir.path().join("emr/MLiy.json").exists());
    assert!(Library::open(dir.path()).unwrap().entry("ec2/MLiy.json").is_none());
}

#[tokio::test]
async fn bad_documents_are_rejected_and_unsafe_keys_passed_over() {
    let (s3, dir) = (MemoryObjects::default(), tempfile::tempdir().unwrap());
    let put = |k: &str, v: &str| s3.put("mliy-catalog", k, v.as_bytes(), Timestamp(0));
    put("cf/broken.yaml", "Parameters: [\n");
    put("cf/no-params.yaml", "Resources: {B: {Type: AWS::S3::Bucket}}");
    put("cf/a/../../escape.json", TEMPLATE);
    put("cf/.mliy-library.json", TEMPLATE);
    put("cf/a\\b.json", TEMPLATE);
    let mut lib = Library::open(dir.path().join("lib")).unwrap();
    let dry = run(&s3, &mut lib, &[], SyncOptions { dry_run: true, prune: false }).await;
    assert!(dry.added.is_empty() && !dir.path().join("lib").exists(), "a dry run writes nothing");
    let report = run(&s3, &mut lib, &[], SyncOptions::default()).await;
    let rejected: Vec<&str> = report.rejected.iter().map(|r| r.key.as_str()).collect();
    assert_eq!(rejected, ["broken.yaml", "no-params.yaml"]);
    assert!(report.rejected[1].message.contains("Parameters"), "{}", report.rejected[1].message);
    assert!(report.added.is_empty() && !dir.path().join("escape.json").exists());
}

#[test]
fn documents_in_use_are_the_live_configs_library_files() {
    let catalog = Catalog::from_yaml_str(
        "software_configs:\n\
         - {name: notebook, template: {path: library/ec2/notebook.yaml}, user_data: {path: ./library/scripts/userdata.sh}}\n\
         - {name: idle, template: {path: library/emr/MLiy.json}}\n",
    )
    .unwrap();
    let used = in_use(&catalog, ["notebook"], Path::new("library"));
    assert_eq!(used.into_iter().collect::<Vec<_>>(), ["ec2/notebook.yaml", "scripts/userdata.sh"]);
}

#[tokio::test]
async fn two_folders_are_two_sources() {
    let (a, b, lib) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    std::fs::write(a.path().join("a.yaml"), TEMPLATE).unwrap();
    std::fs::write(b.path().join("b.yaml"), TEMPLATE).unwrap();
    let mut library = Library::open(lib.path()).unwrap();
    let prune = SyncOptions { dry_run: false, prune: true };
    for dir in [&a, &b] {
        let folder = crate::objects::FolderObjects::new(dir.path());
        let report = sync(&folder, &folder.location(), &mut library, &Default::default(), prune).await.unwrap();
        assert!(report.removed.is_empty(), "another folder's documents are not missing from this one: {report:?}");
        assert!(report.source.starts_with("folder "), "{}", report.source);
    }
    assert!(library.entry("a.yaml").is_some() && library.entry("b.yaml").is_some());
}
