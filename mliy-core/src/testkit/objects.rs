//! The `ObjectStore` suite: the caller writes [`SEED`] under a bucket (by whatever means the
//! backend has: `MemoryObjects::put`, files in a folder, boto3 against moto), then
//! [`run_all`] checks listing by prefix across pages, conditional reads and missing objects.

use crate::objects::{Fetched, ObjectStore, S3Location, for_each_page};

/// What the caller writes, as (key, content), before [`run_all`].
pub const SEED: &[(&str, &str)] = &[
    ("suite/a/1.json", "one"),
    ("suite/a/2.json", "two"),
    ("suite/a/3.json", "three"),
    ("suite/a_b/4.json", "four"),
    ("suite/b/5.sh", "five"),
];

/// Every check, on the objects of [`SEED`] in `bucket`.
pub async fn run_all(store: &dyn ObjectStore, bucket: &str) {
    listing_follows_the_prefix_across_pages(store, bucket).await;
    reads_are_conditional(store, bucket).await;
    missing_objects_are_not_found(store, bucket).await;
}

pub async fn listing_follows_the_prefix_across_pages(store: &dyn ObjectStore, bucket: &str) {
    let at = S3Location { bucket: bucket.into(), prefix: "suite/a/".into() };
    let mut keys = Vec::new();
    for_each_page(store, &at, |page| {
        keys.extend(page.into_iter().map(|o| (o.key, o.size)));
        Ok(())
    })
    .await
    .unwrap();
    assert_eq!(keys, [("suite/a/1.json".into(), 3), ("suite/a/2.json".into(), 3), ("suite/a/3.json".into(), 5)]);
    let all = S3Location { bucket: bucket.into(), prefix: "suite/".into() };
    let mut count = 0;
    for_each_page(store, &all, |page| {
        count += page.len();
        Ok(())
    })
    .await
    .unwrap();
    assert_eq!(count, SEED.len());
}

pub async fn reads_are_conditional(store: &dyn ObjectStore, bucket: &str) {
    let Fetched::Body { etag, bytes } = store.get(bucket, "suite/b/5.sh", None).await.unwrap() else {
        panic!("a plain read returns the body")
    };
    assert_eq!(bytes, b"five");
    assert!(etag.starts_with('"') && etag.ends_with('"'), "an ETag is quoted: {etag}");
    assert_eq!(store.get(bucket, "suite/b/5.sh", Some(&etag)).await.unwrap(), Fetched::NotModified);
    let other = store.get(bucket, "suite/b/5.sh", Some("\"not-it\"")).await.unwrap();
    assert!(matches!(other, Fetched::Body { .. }), "another ETag reads the body");
    let listed = store.list_page(&S3Location { bucket: bucket.into(), prefix: "suite/b/".into() }, None).await.unwrap();
    assert_eq!(listed.objects[0].etag, etag, "the listing's ETag is the read's");
}

pub async fn missing_objects_are_not_found(store: &dyn ObjectStore, bucket: &str) {
    assert_eq!(store.get(bucket, "suite/none.json", None).await.unwrap_err().kind(), "not_found");
    let empty =
        store.list_page(&S3Location { bucket: bucket.into(), prefix: "suite/none/".into() }, None).await.unwrap();
    assert!(empty.objects.is_empty() && empty.next.is_none());
}
