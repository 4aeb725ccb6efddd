//! S3 against moto's: `mliy catalog sync` (nested folders, a multipart object, unchanged and
//! changed objects with moto's request recorder counting the GETs, removal with and without
//! `--prune`, a document a live resource uses kept), datasets of several formats over many
//! pages, and `mliy datasets used-by` over a dozen notebooks written here.
//!
//! The CLI reaches moto through `AWS_ENDPOINT_URL`, as it would reach AWS.

use super::fixtures;
use super::moto::Moto;
use mliy::objects::{ObjectStore, S3Location};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// moto with its recorder on, writing into `dir`.
fn moto(dir: &Path) -> Option<Moto> {
    let file = dir.join("moto-recording").display().to_string();
    Moto::start_with(&[("MOTO_ENABLE_RECORDING", "True"), ("MOTO_RECORDER_FILEPATH", &file)])
}

/// `S3Objects` on moto, `page` keys a page.
async fn s3_on(moto: &Moto, page: u16) -> mliy::plugins::s3::S3Objects {
    let options = mliy::plugins::aws::AwsOptions::new()
        .region("us-east-1")
        .endpoint_url(&moto.url)
        .credentials("testing", mliy::secret::Secret::new("testing"));
    mliy::plugins::s3::S3Objects::connect(options).await.unwrap().page_size(page)
}

fn mliy(moto: &Moto, args: &[&str], config: Option<&Path>) -> (i32, Value) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mliy"));
    command
        .args(args)
        .env("AWS_ENDPOINT_URL", &moto.url)
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env_remove("MLIY_CONFIG");
    if let Some(c) = config {
        command.env("MLIY_CONFIG", c);
    }
    let out = command.output().unwrap();
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!("not JSON: {}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
    });
    (out.status.code().unwrap_or(-1), json)
}

/// The object GETs (not listings) moto received since the recorder was last reset, and
/// whether each carried `If-None-Match`.
fn object_gets(moto: &Moto) -> Vec<(String, bool)> {
    let out = moto.boto3(
        "import urllib.request\n\
         log = urllib.request.urlopen(kw['endpoint_url'] + '/moto-api/recorder/download-recording').read().decode()\n\
         for line in log.splitlines():\n\
         \x20   r = json.loads(line)\n\
         \x20   if r['method'] == 'GET' and 'list-type' not in r['url'] and '/moto-api/' not in r['url']:\n\
         \x20       h = {k.lower() for k in (r['headers'] or {})}\n\
         \x20       print(json.dumps([r['url'], 'if-none-match' in h]))\n",
    );
    out.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn recorder(moto: &Moto, action: &str) {
    moto.boto3(&format!(
        "import urllib.request\nurllib.request.urlopen(urllib.request.Request(kw['endpoint_url'] + '/moto-api/recorder/{action}', method='POST'))\n"
    ));
}

fn keys(report: &Value, field: &str) -> Vec<String> {
    let list = report[field].as_array().unwrap_or_else(|| panic!("{field}: {report}"));
    list.iter().map(|e| e.get("key").unwrap_or(e).as_str().unwrap().to_string()).collect()
}

/// Puts MLiy's templates and user data under `s3://mliy-catalog/cloudformation/`, one of them
/// as a multipart upload; prints that object's ETag.
fn put_catalog(moto: &Moto, examples: &Path) -> String {
    let script = format!(
        "s3 = boto3.client('s3', **kw)\ns3.create_bucket(Bucket='mliy-catalog')\n\
         put = lambda k, p: s3.put_object(Bucket='mliy-catalog', Key='cloudformation/' + k, Body=open(p, 'rb').read())\n\
         put('ec2/MLiy.json', '{ec2}')\nput('emr/MLiy.json', '{emr}')\n\
         put('apps/nested/deep/app.yaml', '{app}')\nput('scripts/userdata_MLiy.sh', '{sh}')\n\
         put('ec2/instance.yaml', '{instance}')\nput('scripts/userdata.sh', '{userdata}')\n\
         s3.put_object(Bucket='mliy-catalog', Key='cloudformation/README.md', Body=b'docs')\n\
         s3.put_object(Bucket='mliy-catalog', Key='cloudformation_old/ec2/MLiy.json', Body=b'{{}}')\n\
         up = s3.create_multipart_upload(Bucket='mliy-catalog', Key='cloudformation/ec2/image.yaml')\n\
         part = s3.upload_part(Bucket='mliy-catalog', Key='cloudformation/ec2/image.yaml', PartNumber=1, UploadId=up['UploadId'], Body=open('{image}', 'rb').read())\n\
         done = s3.complete_multipart_upload(Bucket='mliy-catalog', Key='cloudformation/ec2/image.yaml', UploadId=up['UploadId'], \
         MultipartUpload={{'Parts': [{{'ETag': part['ETag'], 'PartNumber': 1}}]}})\nprint(done['ETag'])\n",
        ec2 = fixtures::path(fixtures::EC2).display(),
        emr = fixtures::path(fixtures::EMR).display(),
        app = fixtures::path(fixtures::APP).display(),
        image = fixtures::path(fixtures::APP_IMAGE).display(),
        sh = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mliy-scripts/userdata_MLiy.sh").display(),
        instance = examples.join("instance.yaml").display(),
        userdata = examples.join("userdata.sh").display(),
    );
    moto.boto3(&script).trim().to_string()
}

/// A simulated deployment whose catalog takes the `notebook` config's template and script
/// from the library.
fn deployment(dir: &Path, examples: &Path) -> PathBuf {
    for file in ["catalog.yaml", "cluster.yaml", "userdata.sh", "instance.yaml"] {
        std::fs::copy(examples.join(file), dir.join(file)).unwrap();
    }
    let catalog = std::fs::read_to_string(dir.join("catalog.yaml")).unwrap();
    let catalog = catalog.replacen("template: {path: instance.yaml}", "template: {path: library/ec2/instance.yaml}", 1);
    let catalog =
        catalog.replacen("user_data: {path: userdata.sh}", "user_data: {path: library/scripts/userdata.sh}", 1);
    assert!(catalog.contains("library/ec2/instance.yaml") && catalog.contains("library/scripts/userdata.sh"));
    std::fs::write(dir.join("catalog.yaml"), catalog).unwrap();
    let config = dir.join("mliy.yaml");
    std::fs::write(&config, "catalog: catalog.yaml\ncloud: sim\nstore: {sqlite: state.sqlite}\n").unwrap();
    config
}

#[test]
fn catalog_sync_reads_only_what_changed_and_keeps_what_is_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let Some(moto) = moto(dir.path()) else { return };
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/catalog");
    let multipart_etag = put_catalog(&moto, &examples);
    assert!(multipart_etag.ends_with("-1\""), "a multipart ETag: {multipart_etag}");
    let config = deployment(dir.path(), &examples);
    let sync = ["catalog", "sync", "--from", "s3://mliy-catalog/cloudformation", "--json"];

    let (code, dry) = mliy(&moto, &[&sync[..], &["--dry-run"]].concat(), Some(&config));
    assert_eq!((code, keys(&dry, "added").len()), (0, 7), "{dry}");
    assert!(!dir.path().join("library").exists(), "a dry run writes nothing");

    let (code, first) = mliy(&moto, &sync, Some(&config));
    assert_eq!(code, 0, "{first}");
    let added = keys(&first, "added");
    for key in
        ["ec2/MLiy.json", "emr/MLiy.json", "apps/nested/deep/app.yaml", "scripts/userdata_MLiy.sh", "ec2/image.yaml"]
    {
        assert!(added.contains(&key.to_string()), "{key} in {added:?}");
    }
    assert!(dir.path().join("library/ec2/MLiy.json").exists() && dir.path().join("library/emr/MLiy.json").exists());
    let image = first["added"].as_array().unwrap().iter().find(|e| e["key"] == "ec2/image.yaml").unwrap();
    assert_eq!(image["etag"].as_str(), Some(multipart_etag.as_str()));
    let script = first["added"].as_array().unwrap().iter().find(|e| e["key"] == "scripts/userdata_MLiy.sh").unwrap();
    assert!(script["tokens"].as_array().unwrap().iter().any(|t| t == "MANAGER_HOSTNAME"), "{script}");

    // The same prefix again: nothing downloaded, as moto's own log says.
    recorder(&moto, "reset-recording");
    recorder(&moto, "start-recording");
    let (_, second) = mliy(&moto, &sync, Some(&config));
    assert_eq!((second["downloads"].as_u64(), keys(&second, "unchanged").len()), (Some(0), 7), "{second}");
    assert_eq!(object_gets(&moto), [], "the second sync sent no GetObject");

    // A changed object is picked up by its ETag, with one conditional GET.
    let changed = std::fs::read_to_string(examples.join("instance.yaml")).unwrap() + "\n# changed\n";
    std::fs::write(dir.path().join("changed.yaml"), &changed).unwrap();
    moto.boto3(&format!(
        "boto3.client('s3', **kw).put_object(Bucket='mliy-catalog', Key='cloudformation/ec2/instance.yaml', Body=open('{}', 'rb').read())\n",
        dir.path().join("changed.yaml").display()
    ));
    recorder(&moto, "reset-recording");
    let (_, third) = mliy(&moto, &sync, Some(&config));
    assert_eq!(keys(&third, "changed"), ["ec2/instance.yaml"], "{third}");
    let gets = object_gets(&moto);
    assert_eq!(gets.len(), 1, "{gets:?}");
    assert!(gets[0].0.contains("/mliy-catalog/cloudformation/ec2/instance.yaml?") && gets[0].1, "{gets:?}");
    assert!(std::fs::read_to_string(dir.path().join("library/ec2/instance.yaml")).unwrap().ends_with("# changed\n"));
    recorder(&moto, "stop-recording");

    removal(&moto, dir.path(), &config, &sync);
}

/// Removed objects: reported, kept without `--prune`, pruned with it, but never one the
/// software config of a live resource uses.
fn removal(moto: &Moto, dir: &Path, config: &Path, sync: &[&str]) {
    let launch =
        "launch --as alice --group-config data-science --software-config notebook --instance-type t3.large --json";
    let (code, launched) = mliy(moto, &launch.split(' ').collect::<Vec<_>>(), Some(config));
    assert_eq!(code, 0, "{launched}");
    moto.boto3(
        "s3 = boto3.client('s3', **kw)\nfor k in ['emr/MLiy.json', 'ec2/instance.yaml']:\n    s3.delete_object(Bucket='mliy-catalog', Key='cloudformation/' + k)\n",
    );
    let (_, kept) = mliy(moto, sync, Some(config));
    assert_eq!(
        (keys(&kept, "missing"), keys(&kept, "removed")),
        (vec!["ec2/instance.yaml".into(), "emr/MLiy.json".into()], vec![])
    );
    assert!(dir.join("library/emr/MLiy.json").exists());

    let (code, refused) = mliy(moto, &[sync, &["--prune", "--into", "elsewhere"]].concat(), None);
    assert_eq!((code, refused["error"]["field"].as_str()), (2, Some("--prune")), "{refused}");

    let (code, pruned) = mliy(moto, &[sync, &["--prune"]].concat(), Some(config));
    assert_eq!(code, 0, "{pruned}");
    assert_eq!(
        (keys(&pruned, "removed"), keys(&pruned, "kept_in_use")),
        (vec!["emr/MLiy.json".into()], vec!["ec2/instance.yaml".into()])
    );
    assert!(!dir.join("library/emr/MLiy.json").exists() && dir.join("library/ec2/instance.yaml").exists());
}

/// 420 objects over 9 pages of 50: parquet with Spark's names, gzip'd CSV, JSON, ORC, Avro,
/// markers that are not data, and a prefix sharing a leading substring with another.
fn put_datasets(moto: &Moto) {
    moto.boto3(
        "s3 = boto3.client('s3', **kw)\ns3.create_bucket(Bucket='data-lake')\n\
         put = lambda k, n=10: s3.put_object(Bucket='data-lake', Key='curated/' + k, Body=b'x' * n)\n\
         for i in range(300): put(f'sales/year=2024/part-{i:05}.snappy.parquet', 100)\n\
         put('sales/_SUCCESS', 0)\n\
         for i in range(60): put(f'sales_archive/{i}.csv.gz')\n\
         for i in range(30): put(f'events/{i}.json')\n\
         for i in range(20): put(f'events/orc/{i}.orc')\n\
         for i in range(8): put(f'clicks/{i}.avro')\nput('clicks/.s3keep', 0)\nput('readme.txt')\n",
    );
}

/// A dataset's location, objects, bytes and formats.
type Summary = (String, u64, u64, Vec<(String, u64)>);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn datasets_are_listed_page_by_page_with_their_formats() {
    let dir = tempfile::tempdir().unwrap();
    let Some(moto) = moto(dir.path()) else { return };
    put_datasets(&moto);
    let s3 = s3_on(&moto, 50).await;
    let at = S3Location::parse("prefix", "s3://data-lake/curated").unwrap();
    let mut pages = 0;
    mliy::objects::for_each_page(&s3, &at, |_| {
        pages += 1;
        Ok(())
    })
    .await
    .unwrap();
    assert_eq!(pages, 9, "420 objects in pages of 50");
    let found = mliy::datasets::list(&s3, &at, 1).await.unwrap();
    let summary: Vec<Summary> =
        found.into_iter().map(|d| (d.uri, d.objects, d.bytes, d.formats.into_iter().collect())).collect();
    let f = |pairs: &[(&str, u64)]| pairs.iter().map(|(k, n)| (k.to_string(), *n)).collect::<Vec<_>>();
    assert_eq!(
        summary,
        [
            ("s3://data-lake/curated/clicks/".to_string(), 8, 80, f(&[("avro", 8)])),
            ("s3://data-lake/curated/events/".to_string(), 50, 500, f(&[("json", 30), ("orc", 20)])),
            ("s3://data-lake/curated/sales/".to_string(), 300, 30_000, f(&[("parquet.snappy", 300)])),
            ("s3://data-lake/curated/sales_archive/".to_string(), 60, 600, f(&[("csv.gz", 60)])),
        ]
    );
    let missing = S3Location::parse("prefix", "s3://no-such-bucket/x").unwrap();
    assert_eq!(s3.list_page(&missing, None).await.unwrap_err().kind(), "not_found");

    let (code, listed) = mliy(&moto, &["datasets", "list", "--prefix", "s3://data-lake/curated/", "--json"], None);
    assert_eq!((code, listed["datasets"].as_array().map(Vec::len)), (0, Some(4)), "{listed}");
    let (code, deeper) =
        mliy(&moto, &["datasets", "list", "--prefix", "s3://data-lake/curated/events", "--json"], None);
    let uris: Vec<&str> = deeper["datasets"].as_array().unwrap().iter().map(|d| d["uri"].as_str().unwrap()).collect();
    assert_eq!((code, uris), (0, vec!["s3://data-lake/curated/events/", "s3://data-lake/curated/events/orc/"]));
}

/// A notebook in nbformat 4 with these code cells (each a string, or a list of lines when
/// it holds a newline and `lines` is set).
fn notebook(cells: &[&str], lines: bool) -> String {
    let cells: Vec<Value> = cells
        .iter()
        .map(|c| {
            let source = if lines { serde_json::json!(c.split_inclusive('\n').collect::<Vec<_>>()) } else { serde_json::json!(c) };
            serde_json::json!({"cell_type": "code", "source": source, "metadata": {}, "outputs": [], "execution_count": null})
        })
        .collect();
    let mut all = vec![
        serde_json::json!({"cell_type": "markdown", "source": "# s3://data-lake/curated/sales is documented here", "metadata": {}}),
    ];
    all.extend(cells);
    serde_json::json!({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": all}).to_string()
}

#[test]
fn used_by_finds_every_notebook_that_names_the_dataset_and_no_other() {
    let dir = tempfile::tempdir().unwrap();
    let Some(moto) = moto(dir.path()) else { return };
    let books: Vec<(&str, String)> = vec![
        ("alice/sales.ipynb", notebook(&["df = spark.read.parquet('s3://data-lake/curated/sales/year=2024/')"], false)),
        (
            "alice/lines.ipynb",
            notebook(
                &["import pandas as pd\n", "x = 1\npdf = pd.read_csv(\n    \"s3a://data-lake/curated/sales/x.csv\")\n"],
                true,
            ),
        ),
        (
            "alice/work/nested.ipynb",
            notebook(
                &["base = 's3://data-lake/curated/'\ndf = spark.read.format('parquet').load(base + 'sales')"],
                true,
            ),
        ),
        (
            "bob/fstring.ipynb",
            notebook(
                &[
                    "bucket = 'data-lake'\nday = '2024-01-01'\ndf = spark.read.json(f's3n://{bucket}/curated/sales/{day}/')",
                ],
                false,
            ),
        ),
        ("bob/bare.ipynb", notebook(&["path = 'data-lake/curated/sales'\ndf = pd.read_parquet(path)"], true)),
        ("bob/archive.ipynb", notebook(&["df = spark.read.csv('s3://data-lake/curated/sales_archive/')"], false)),
        (
            "carol/other.ipynb",
            notebook(
                &["df = spark.read.json('s3://data-lake/curated/events/')", "print('data-lake/curated/sales')"],
                false,
            ),
        ),
        ("carol/comment.ipynb", notebook(&["# spark.read.parquet('s3://data-lake/curated/sales/')\ndf = 1"], false)),
        ("carol/broken.ipynb", "{\"nbformat\": 4, \"cells\": [".to_string()),
        ("carol/old.ipynb", "{\"nbformat\": 3, \"worksheets\": []}".to_string()),
        (
            "dave/prefix.ipynb",
            notebook(
                &["root = 's3://data-lake/curated/'\nq = root + 'sales_archive/2024/'\nspark.read.parquet(q)"],
                false,
            ),
        ),
        (
            "dave/.ipynb_checkpoints/sales-checkpoint.ipynb",
            notebook(&["spark.read.parquet('s3://data-lake/curated/sales/')"], false),
        ),
    ];
    let folder = dir.path().join("notebooks");
    for (key, text) in &books {
        let path = folder.join(key);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    moto.boto3(&format!(
        "import os\ns3 = boto3.client('s3', **kw)\ns3.create_bucket(Bucket='hub-notebooks')\n\
         for root, _, files in os.walk('{0}'):\n\
         \x20   for f in files:\n\
         \x20       p = os.path.join(root, f)\n\
         \x20       s3.put_object(Bucket='hub-notebooks', Key='jupyter/' + os.path.relpath(p, '{0}'), Body=open(p, 'rb').read())\n\
         for u in ['alice', 'bob', 'carol', 'dave']: s3.put_object(Bucket='hub-notebooks', Key=f'jupyter/{{u}}/.s3keep', Body=b'')\n",
        folder.display()
    ));
    let args =
        ["datasets", "used-by", "s3://data-lake/curated/sales", "--notebooks", "s3://hub-notebooks/jupyter/", "--json"];
    let (code, found) = mliy(&moto, &args, None);
    assert_eq!(code, 0, "{found}");
    let mut names: Vec<String> = found["notebooks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            format!(
                "{} {} {}",
                u["notebook"].as_str().unwrap().trim_start_matches("s3://hub-notebooks/jupyter/"),
                u["owner"].as_str().unwrap(),
                u["cell"]
            )
        })
        .collect();
    names.dedup();
    assert_eq!(
        names,
        [
            "alice/lines.ipynb alice 2",
            "alice/sales.ipynb alice 1",
            "alice/work/nested.ipynb alice 1",
            "bob/bare.ipynb bob 1",
            "bob/fstring.ipynb bob 1",
        ],
        "{found}"
    );
    let errors: Vec<&str> =
        found["errors"].as_array().unwrap().iter().map(|e| e["notebook"].as_str().unwrap()).collect();
    assert_eq!(errors, ["s3://hub-notebooks/jupyter/carol/broken.ipynb", "s3://hub-notebooks/jupyter/carol/old.ipynb"]);
    let (_, bobs) = mliy(&moto, &[&args[..], &["--owner", "bob"]].concat(), None);
    assert_eq!(bobs["notebooks"].as_array().map(Vec::len), Some(2), "{bobs}");
}

/// `S3Objects` passes the `ObjectStore` suite on moto, two keys a page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_objects_pass_the_suite() {
    let dir = tempfile::tempdir().unwrap();
    let Some(moto) = moto(dir.path()) else { return };
    let seed: Vec<String> = mliy::testkit::objects::SEED.iter().map(|(k, v)| format!("('{k}', b'{v}')")).collect();
    moto.boto3(&format!(
        "s3 = boto3.client('s3', **kw)\ns3.create_bucket(Bucket='suite-bucket')\n\
         for k, v in [{}]: s3.put_object(Bucket='suite-bucket', Key=k, Body=v)\n",
        seed.join(", ")
    ));
    let s3 = s3_on(&moto, 2).await;
    mliy::testkit::objects::run_all(&s3, "suite-bucket").await;
}
