//! The fake SX cluster reproduces sx-protocol.md's vectors and speaks the protocol on the wire.
//! (Its own signer below shares no code with the fake's verifier or with the client.)

use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine;
use ring::{digest, hmac};

use crate::sx_fake::{block_hash, FakeSx, Signed, ADMIN_TOKEN};

const DATE: &str = "Sun, 22 Nov 2026 02:14:34 GMT";
const VECTOR_EPOCH: i64 = 1_795_313_674; // DATE as Unix seconds

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[actix_web::test]
async fn fake_accepts_the_documented_signatures() {
    let fake = FakeSx::start(1);
    fake.set_clock_offset(VECTOR_EPOCH - now());
    let st = fake.state();
    let get = Signed {
        method: "GET",
        uri: "/?volumeList",
        date: Some(DATE),
        body: b"",
        authorization: Some("SKY 0DPiKuNIrrVmD8IUCuw1hQxNqZeJTka7vttDuDWmI2arZO8qBDXWEwAA"),
    };
    assert_eq!(st.authenticate(&get).ok(), Some(Some("admin".to_owned())));
    let put = Signed {
        method: "PUT",
        uri: "/vol1/dir/a%20b.txt",
        date: Some(DATE),
        body: br#"{"fileSize":3,"fileData":["x"]}"#,
        authorization: Some("SKY 0DPiKuNIrrVmD8IUCuw1hQxNqZceDNBPD/g1wsJ3L5InLQkH7jy/SQAA"),
    };
    assert_eq!(st.authenticate(&put).ok(), Some(Some("admin".to_owned())));
    let tampered = Signed {
        uri: "/vol1/dir/a%20c.txt",
        ..put
    };
    assert!(matches!(
        st.authenticate(&tampered),
        Err((401, "SXAUTH", _))
    ));
    drop(st);
    fake.set_clock_offset(0);
    let st = fake.state();
    assert!(matches!(st.authenticate(&get), Err((401, "SXCLOCK", _))));
}

#[test]
fn fake_hashes_blocks_with_the_cluster_uuid() {
    let mut block = b"hello world\n".to_vec();
    block.resize(4096, 0);
    assert_eq!(
        block_hash(&block),
        "488e3b2e9e8a93d9417a56132f8e1cf126fc1fa3"
    );
}

fn sky(method: &str, uri: &str, date: &str, body: &[u8]) -> String {
    let token = STANDARD_NO_PAD.decode(ADMIN_TOKEN).unwrap();
    let body_sha1: String = digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, body)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let text = format!("{method}\n{}\n{date}\n{body_sha1}\n", &uri[1..]);
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &token[20..40]);
    let sig = hmac::sign(&key, text.as_bytes());
    let mut out = token[..20].to_vec();
    out.extend_from_slice(sig.as_ref());
    out.extend_from_slice(&token[40..]);
    format!("SKY {}", STANDARD_NO_PAD.encode(out))
}

#[actix_web::test]
async fn fake_speaks_sx_on_the_wire() {
    let fake = FakeSx::start(2);
    fake.set_clock_offset(VECTOR_EPOCH - now());
    let client = awc::Client::default();
    let base = format!("http://127.0.0.2:{}", fake.port);
    let mut resp = client.get(format!("{base}/")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let page = resp.body().await.unwrap();
    assert!(String::from_utf8_lossy(&page).contains("Your SX node is up and running"));
    assert_eq!(
        resp.headers().get("SX-Cluster").unwrap(),
        "2.3 (e78c2788-5488-4a43-a2c5-5635faa43903)"
    );
    assert_eq!(resp.headers().get("SX-API-Version").unwrap(), "1");

    let mut resp = client
        .get(format!("{base}/?nodeList"))
        .insert_header(("Date", DATE))
        .insert_header(("Authorization", sky("GET", "/?nodeList", DATE, b"")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(
        body["nodeList"],
        serde_json::json!(["127.0.0.1", "127.0.0.2"])
    );

    // An unsigned request naming a volume is refused; a stale date gets SXCLOCK.
    let resp = client.get(format!("{base}/vol")).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    fake.set_clock_offset(0);
    let resp = client
        .get(format!("{base}/?nodeList"))
        .insert_header(("Date", DATE))
        .insert_header(("Authorization", sky("GET", "/?nodeList", DATE, b"")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    assert_eq!(
        resp.headers().get("WWW-Authenticate").unwrap(),
        "SKY realm=\"SXCLOCK\""
    );
    assert!(resp.headers().contains_key("Date"));
}
