use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::*;
use crate::s3::lifecycle::parse_xml;

/// A ten-second day: versions below are dated in seconds since the epoch.
const DAY: Duration = Duration::from_secs(10);

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

fn version(key: &str, id: &str, latest: bool, modified: u64) -> VersionSummary {
    VersionSummary {
        key: key.into(),
        version_id: id.into(),
        is_latest: latest,
        delete_marker: false,
        size: 1,
        etag: format!("etag-{id}"),
        last_modified: at(modified),
        header: None,
    }
}

fn marker(key: &str, id: &str, latest: bool, modified: u64) -> VersionSummary {
    VersionSummary {
        delete_marker: true,
        size: 0,
        etag: String::new(),
        ..version(key, id, latest, modified)
    }
}

fn rules(rules: &str) -> Lifecycle {
    parse_xml(format!("<LifecycleConfiguration>{rules}</LifecycleConfiguration>").as_bytes())
        .unwrap()
}

/// What the walk decides over `listing` at `now`, as (kind, key, version id).
fn walk(lifecycle: &Lifecycle, now: u64, listing: &[VersionSummary]) -> Vec<String> {
    let mut walk = VersionWalk::new(lifecycle, DAY, at(now));
    let mut due = Vec::new();
    for v in listing {
        walk.see(v, &mut due);
    }
    walk.finish(&mut due);
    due.into_iter()
        .map(|action| match action {
            Action::ExpireCurrent { key, judged } => format!("current {key} {}", judged.etag),
            Action::ExpireNoncurrent { key, version } => {
                format!(
                    "noncurrent {key} {} marker={}",
                    version.id, version.delete_marker
                )
            }
            Action::RemoveMarker { key, version } => format!("marker {key} {}", version.id),
        })
        .collect()
}

const NONCURRENT_KEEP_ONE: &str = "<Rule><ID>n</ID><Filter/><Status>Enabled</Status>\
    <NoncurrentVersionExpiration><NoncurrentDays>1</NoncurrentDays>\
    <NewerNoncurrentVersions>1</NewerNoncurrentVersions></NoncurrentVersionExpiration></Rule>";

#[test]
fn noncurrent_days_count_from_the_next_newer_version() {
    let lifecycle = rules(NONCURRENT_KEEP_ONE);
    // v3 became noncurrent at 40 (due 50), v2 at 30 (due 40), v1 at 20 (due 30).
    let listing = [
        version("a", "v4", true, 40),
        version("a", "v3", false, 30),
        version("a", "v2", false, 20),
        version("a", "v1", false, 10),
    ];
    // v3 is the one newest noncurrent version kept whatever its age.
    assert_eq!(
        walk(&lifecycle, 100, &listing),
        [
            "noncurrent a v2 marker=false",
            "noncurrent a v1 marker=false"
        ]
    );
    // At 35 only v1 is a day past becoming noncurrent.
    assert_eq!(
        walk(&lifecycle, 35, &listing),
        ["noncurrent a v1 marker=false"]
    );
    // Nothing at 29: v1's noncurrent day ends at 30.
    assert!(walk(&lifecycle, 29, &listing).is_empty());
}

#[test]
fn noncurrent_markers_go_like_versions_and_a_lone_marker_waits_for_its_pass() {
    let lifecycle = rules(
        "<Rule><ID>n</ID><Filter><Prefix>x</Prefix></Filter><Status>Enabled</Status>\
         <NoncurrentVersionExpiration><NoncurrentDays>1</NoncurrentDays></NoncurrentVersionExpiration></Rule>\
         <Rule><ID>m</ID><Filter><Prefix>x</Prefix></Filter><Status>Enabled</Status>\
         <Expiration><ExpiredObjectDeleteMarker>true</ExpiredObjectDeleteMarker></Expiration></Rule>",
    );
    let listing = [
        marker("x1", "m2", true, 50),
        version("x1", "v2", false, 40),
        marker("x1", "m1", false, 30),
        version("x1", "v1", false, 20),
        marker("x2", "m", true, 50),
        version("y", "v", true, 1),
        version("y", "old", false, 0),
    ];
    assert_eq!(
        walk(&lifecycle, 100, &listing),
        [
            "noncurrent x1 v2 marker=false",
            "noncurrent x1 m1 marker=true",
            "noncurrent x1 v1 marker=false",
            // x1's marker still has older versions in this listing: removed by a later pass.
            "marker x2 m",
        ]
    );
}

#[test]
fn expiration_days_expire_current_versions_and_old_lone_markers() {
    let lifecycle = rules(
        "<Rule><ID>e</ID><Filter/><Status>Enabled</Status><Expiration><Days>2</Days></Expiration></Rule>",
    );
    let listing = [
        version("a", "v2", true, 5),
        version("a", "v1", false, 0),
        marker("b", "m", true, 25),
        marker("c", "m", true, 5),
        version("c", "v", false, 1),
    ];
    // a's v2 is due at 30 (5 + 2 days, rounded up to a day); b's marker at 50; c's marker
    // is not its key's only version.
    assert!(walk(&lifecycle, 29, &listing).is_empty());
    assert_eq!(walk(&lifecycle, 30, &listing), ["current a etag-v2"]);
    assert_eq!(
        walk(&lifecycle, 50, &listing),
        ["current a etag-v2", "marker b m"]
    );
}

#[test]
fn filters_and_disabled_rules_are_respected() {
    let lifecycle = rules(
        "<Rule><ID>n</ID><Filter><And><Prefix>p/</Prefix><ObjectSizeGreaterThan>5</ObjectSizeGreaterThan></And></Filter>\
         <Status>Enabled</Status><NoncurrentVersionExpiration><NoncurrentDays>1</NoncurrentDays></NoncurrentVersionExpiration></Rule>\
         <Rule><ID>off</ID><Filter/><Status>Disabled</Status>\
         <NoncurrentVersionExpiration><NoncurrentDays>1</NoncurrentDays></NoncurrentVersionExpiration></Rule>",
    );
    let big = |key: &str, id: &str, latest, modified| VersionSummary {
        size: 6,
        ..version(key, id, latest, modified)
    };
    let listing = [
        big("p/a", "new", true, 10),
        big("p/a", "old", false, 0),
        big("p/b", "new", true, 10),
        version("p/b", "small", false, 0),
        big("q", "new", true, 10),
        big("q", "old", false, 0),
    ];
    assert_eq!(
        walk(&lifecycle, 100, &listing),
        ["noncurrent p/a old marker=false"]
    );
}

#[test]
fn a_key_first_seen_without_its_latest_version_is_not_judged() {
    // The latest version went between two pages: nothing newer is known of "a".
    let lifecycle = rules(NONCURRENT_KEEP_ONE);
    let listing = [
        version("a", "v2", false, 20),
        version("a", "v1", false, 10),
        marker("b", "m", false, 10),
    ];
    // v1 follows v2, which is noncurrent and newer: v1 is the second noncurrent one.
    assert_eq!(
        walk(&lifecycle, 100, &listing),
        ["noncurrent a v1 marker=false"]
    );
}

#[test]
fn a_listing_that_starts_a_key_over_judges_no_more_of_it() {
    // Resumed from a version that went, a listing can list the key's newer versions again:
    // taken as older ones they would look long noncurrent, the current one too.
    let lifecycle = rules(NONCURRENT_KEEP_ONE);
    let listing = [
        version("a", "v3", true, 40),
        version("a", "v2", false, 30),
        version("a", "v1", false, 20),
        version("a", "v3", false, 40),
        version("a", "v2", false, 30),
        version("b", "new", true, 10),
        version("b", "n1", false, 5),
        version("b", "n2", false, 4),
    ];
    assert_eq!(
        walk(&lifecycle, 100, &listing),
        [
            "noncurrent a v1 marker=false",
            "noncurrent b n2 marker=false"
        ]
    );
}

#[test]
fn what_a_held_action_could_remove() {
    let listed = |id: &str| ListedVersion::from(&version("k", id, false, 1));
    let current = Action::ExpireCurrent {
        key: "k".into(),
        judged: Judged {
            etag: "e".into(),
            last_modified: at(1),
        },
    };
    // Expiring the current version of a Suspended bucket replaces its null version.
    assert!(current.removes("k", "null"));
    assert!(!current.removes("k", "v1"));
    assert!(!current.removes("other", "null"));
    let noncurrent = Action::ExpireNoncurrent {
        key: "k".into(),
        version: listed("v1"),
    };
    assert!(noncurrent.removes("k", "v1"));
    assert!(!noncurrent.removes("k", "v2"));
    let marker = Action::RemoveMarker {
        key: "k".into(),
        version: listed("null"),
    };
    assert!(marker.removes("k", "null"));
}
