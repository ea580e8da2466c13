//! The stock S3 clients (awscli, s3cmd, rclone, boto3, curl) run as
//! subprocesses with a clean environment pointing at a `TestServer`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use super::{Creds, Response, TempDir, TestServer};

/// No client call of the suite should take longer than this.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(240);

/// Variables passed through from the test's environment to a client; everything
/// else (notably `AWS_*`, `AWS_CA_BUNDLE`, `RCLONE_*`) is dropped.
const PASS_ENV: &[&str] = &[
    "PATH",
    "PYENV_ROOT",
    "PYENV_VERSION",
    "LANG",
    "LC_ALL",
    "TMPDIR",
];

/// A command with an empty environment but for `PASS_ENV`, and `HOME` set to `home`.
pub fn clean_command(program: &str, home: &Path) -> Command {
    let mut cmd = Command::new(program);
    cmd.env_clear();
    for k in PASS_ENV {
        if let Some(v) = std::env::var_os(k) {
            cmd.env(k, v);
        }
    }
    cmd.env("HOME", home);
    cmd.stdin(Stdio::null());
    cmd
}

/// Runs a command to completion (killed after `CLIENT_TIMEOUT`), echoing it and
/// its stderr to the test output.
pub fn run(cmd: &mut Command, what: &str) -> Output {
    run_with_timeout(cmd, what, CLIENT_TIMEOUT)
}

/// `run` with another time limit.
pub fn run_with_timeout(cmd: &mut Command, what: &str, limit: Duration) -> Output {
    eprintln!("$ {what}");
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    let pid = child.id();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let watchdog = std::thread::spawn(move || {
        if let Err(mpsc::RecvTimeoutError::Timeout) = done_rx.recv_timeout(limit) {
            eprintln!("{pid}: still running after {limit:?}, killing it");
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
        }
    });
    let out = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("waiting for {what}: {e}"));
    let _ = done_tx.send(());
    let _ = watchdog.join();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !stderr.trim().is_empty() {
        eprintln!("--- stderr of {what} ---\n{}", tail(&stderr, 8000));
    }
    out
}

fn tail(s: &str, n: usize) -> &str {
    if s.len() <= n {
        return s;
    }
    let mut i = s.len() - n;
    while !s.is_char_boundary(i) {
        i += 1;
    }
    &s[i..]
}

/// Fails the test with the client's output unless it exited 0.
#[track_caller]
pub fn assert_success(out: &Output, what: &str) {
    if !out.status.success() {
        panic!(
            "{what} failed ({}):\n--- stdout ---\n{}\n--- stderr ---\n{}",
            out.status,
            tail(&String::from_utf8_lossy(&out.stdout), 8000),
            tail(&String::from_utf8_lossy(&out.stderr), 8000)
        );
    }
}

fn stdout_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// awscli with its own HOME and config file; path-style addressing.
pub struct Aws {
    endpoint: String,
    home: TempDir,
    creds: Creds,
}

impl Aws {
    pub fn new(server: &TestServer) -> Aws {
        Aws::with_creds(server, server.creds())
    }

    pub fn with_creds(server: &TestServer, creds: Creds) -> Aws {
        let home = TempDir::new("aws-home");
        std::fs::write(
            home.join("config"),
            "[default]\nregion = us-east-1\ns3 =\n    addressing_style = path\n",
        )
        .expect("write aws config");
        Aws {
            endpoint: server.endpoint(),
            home,
            creds,
        }
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = clean_command("aws", self.home.path());
        cmd.env("AWS_ACCESS_KEY_ID", &self.creds.access)
            .env("AWS_SECRET_ACCESS_KEY", &self.creds.secret)
            .env("AWS_DEFAULT_REGION", "us-east-1")
            .env("AWS_CONFIG_FILE", self.home.join("config"))
            .env("AWS_SHARED_CREDENTIALS_FILE", self.home.join("credentials"))
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_PAGER", "")
            .args(["--endpoint-url", &self.endpoint])
            .args(args);
        cmd
    }

    /// Runs `aws ARGS`, asserting success; returns stdout.
    #[track_caller]
    pub fn ok(&self, args: &[&str]) -> String {
        let what = format!("aws {}", args.join(" "));
        let out = run(&mut self.command(args), &what);
        assert_success(&out, &what);
        stdout_of(&out)
    }

    /// Runs `aws ARGS` and parses its JSON output.
    #[track_caller]
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let text = self.ok(args);
        if text.trim().is_empty() {
            return serde_json::Value::Null;
        }
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("aws {}: output is not JSON ({e}):\n{text}", args.join(" ")))
    }

    /// Runs `aws ARGS`, asserting failure; returns stderr.
    #[track_caller]
    pub fn fails(&self, args: &[&str]) -> String {
        let what = format!("aws {}", args.join(" "));
        let out = run(&mut self.command(args), &what);
        assert!(
            !out.status.success(),
            "{what} should have failed; stdout:\n{}",
            stdout_of(&out)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }
}

/// s3cmd with a generated config file, path-style, SigV4.
pub struct S3cmd {
    home: TempDir,
    config: PathBuf,
}

impl S3cmd {
    pub fn new(server: &TestServer) -> S3cmd {
        S3cmd::with_signature_v2(server, false)
    }

    /// s3cmd signing with SigV2 (`signature_v2 = True`), as legacy setups do.
    pub fn with_signature_v2(server: &TestServer, v2: bool) -> S3cmd {
        let home = TempDir::new("s3cmd-home");
        let config = home.join("s3cfg");
        let creds = server.creds();
        let hostport = server.addr().to_string();
        std::fs::write(
            &config,
            format!(
                "[default]\naccess_key = {}\nsecret_key = {}\nhost_base = {hostport}\nhost_bucket = {hostport}\n\
                 use_https = False\nsignature_v2 = {}\nbucket_location = us-east-1\n\
                 check_ssl_certificate = False\nproxy_host =\nproxy_port = 0\n",
                creds.access,
                creds.secret,
                if v2 { "True" } else { "False" }
            ),
        )
        .expect("write s3cmd config");
        S3cmd { home, config }
    }

    /// Runs `s3cmd -c CONFIG ARGS`, asserting success; returns stdout.
    #[track_caller]
    pub fn ok(&self, args: &[&str]) -> String {
        let what = format!("s3cmd {}", args.join(" "));
        let mut cmd = clean_command("s3cmd", self.home.path());
        cmd.arg("-c").arg(&self.config).args(args);
        let out = run(&mut cmd, &what);
        assert_success(&out, &what);
        stdout_of(&out)
    }
}

/// rclone with a remote named `it` defined by environment variables.
pub struct Rclone {
    home: TempDir,
    endpoint: String,
    creds: Creds,
}

impl Rclone {
    pub fn new(server: &TestServer) -> Rclone {
        let home = TempDir::new("rclone-home");
        std::fs::write(home.join("rclone.conf"), "").expect("write rclone.conf");
        Rclone {
            home,
            endpoint: server.endpoint(),
            creds: server.creds(),
        }
    }

    /// Runs `rclone ARGS` (remote `it:`), asserting success; returns stdout.
    #[track_caller]
    pub fn ok(&self, args: &[&str]) -> String {
        let what = format!("rclone {}", args.join(" "));
        let out = run(&mut self.command(args), &what);
        assert_success(&out, &what);
        stdout_of(&out)
    }

    /// Runs `rclone ARGS` and returns its output whatever the exit status.
    pub fn output(&self, args: &[&str]) -> Output {
        let what = format!("rclone {}", args.join(" "));
        run(&mut self.command(args), &what)
    }

    fn command(&self, args: &[&str]) -> Command {
        // clean_command drops AWS_CA_BUNDLE: rclone 1.60 refuses to start with it.
        let mut cmd = clean_command("rclone", self.home.path());
        cmd.env("RCLONE_CONFIG_IT_TYPE", "s3")
            .env("RCLONE_CONFIG_IT_PROVIDER", "Other")
            .env("RCLONE_CONFIG_IT_ENDPOINT", &self.endpoint)
            .env("RCLONE_CONFIG_IT_ACCESS_KEY_ID", &self.creds.access)
            .env("RCLONE_CONFIG_IT_SECRET_ACCESS_KEY", &self.creds.secret)
            .env("RCLONE_CONFIG_IT_REGION", "us-east-1")
            .env("RCLONE_CONFIG_IT_FORCE_PATH_STYLE", "true")
            .arg("--config")
            .arg(self.home.join("rclone.conf"))
            .args(["--low-level-retries", "1", "--retries", "1"])
            .args(args);
        cmd
    }
}

/// Runs a Python script with boto3 against the server. The script gets
/// `S3_ENDPOINT`, `S3_BUCKET`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
/// `AWS_DEFAULT_REGION` and `WORK_DIR`, and may import `py/s3test.py`; it prints one JSON
/// document on stdout.
#[track_caller]
pub fn boto3(
    server: &TestServer,
    script: &str,
    bucket: &str,
    env: &[(&str, &str)],
) -> serde_json::Value {
    boto3_at(&server.endpoint(), &server.creds(), script, bucket, env)
}

/// [`boto3`] against any endpoint (an HTTPS one: pass `AWS_CA_BUNDLE` in `env`), signing
/// with `creds`.
#[track_caller]
pub fn boto3_at(
    endpoint: &str,
    creds: &Creds,
    script: &str,
    bucket: &str,
    env: &[(&str, &str)],
) -> serde_json::Value {
    let home = TempDir::new("boto3-home");
    let path = home.join("script.py");
    std::fs::write(&path, script).expect("write script");
    // The helpers scripts import (`from s3test import ...`).
    std::fs::write(home.join("s3test.py"), include_str!("../py/s3test.py")).expect("write s3test");
    std::fs::write(home.join("config"), "[default]\nregion = us-east-1\n").expect("write config");
    let mut cmd = clean_command("python3", home.path());
    cmd.arg(&path)
        .env("S3_ENDPOINT", endpoint)
        .env("S3_BUCKET", bucket)
        .env("WORK_DIR", home.path())
        .env("AWS_ACCESS_KEY_ID", &creds.access)
        .env("AWS_SECRET_ACCESS_KEY", &creds.secret)
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_CONFIG_FILE", home.join("config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", home.join("credentials"))
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .envs(env.iter().copied());
    let out = run(&mut cmd, "python3 boto3 script");
    assert_success(&out, "boto3 script");
    let text = stdout_of(&out);
    serde_json::from_str(text.trim().lines().last().unwrap_or(""))
        .unwrap_or_else(|e| panic!("boto3 script did not print JSON last ({e}):\n{text}"))
}

/// Sends each form with boto3's presigned POST (SigV4) and curl, and prints what came back.
/// Every field a form adds gets an `eq` condition, as the policy must cover every field.
const PRESIGNED_POSTS: &str = r#"
import json, os, subprocess, boto3
s3 = boto3.client("s3", endpoint_url=os.environ["S3_ENDPOINT"])
bucket = os.environ["S3_BUCKET"]
work = os.environ["WORK_DIR"]
path = os.path.join(work, "file"); open(path, "w").write(os.environ["POST_FILE"])
head, body = os.path.join(work, "head"), os.path.join(work, "body")
answers = []
for key, fields in json.loads(os.environ["POST_FORMS"]):
    post = s3.generate_presigned_post(bucket, key, Fields=fields,
        Conditions=[{name: value} for name, value in fields.items()], ExpiresIn=600)
    if os.path.exists(body):
        os.remove(body)  # curl leaves no file for an empty body
    args = ["curl", "-sS", "-D", head, "-o", body]
    for name, value in post["fields"].items():
        args += ["--form-string", f"{name}={value}"]
    subprocess.run(args + ["-F", f"file=@{path}", post["url"]], check=True)
    # The last block of the header dump is the final answer (after any 100 Continue); text
    # mode reads its CRLFs as newlines.
    lines = open(head).read().strip().split("\n\n")[-1].split("\n")
    headers = [line.split(":", 1) for line in lines[1:]]
    answers.append({"status": int(lines[0].split()[1]),
                    "headers": [[n.strip(), v.strip()] for n, v in headers],
                    "body": open(body).read() if os.path.exists(body) else ""})
print(json.dumps(answers))
"#;

/// The fields a test adds to a POST Object form: (name, value).
pub type FormFields<'a> = &'a [(&'a str, &'a str)];

/// POST Object forms, one per `(key, fields)`, each uploading `file` into `bucket`; the
/// answers in order.
#[track_caller]
pub fn presigned_posts(
    server: &TestServer,
    bucket: &str,
    file: &str,
    forms: &[(&str, FormFields<'_>)],
) -> Vec<Response> {
    let forms_json = serde_json::Value::from(
        forms
            .iter()
            .map(|(key, fields)| {
                let fields: serde_json::Map<String, serde_json::Value> = fields
                    .iter()
                    .map(|(name, value)| (name.to_string(), (*value).into()))
                    .collect();
                serde_json::json!([key, fields])
            })
            .collect::<Vec<_>>(),
    )
    .to_string();
    let out = boto3(
        server,
        PRESIGNED_POSTS,
        bucket,
        &[("POST_FILE", file), ("POST_FORMS", &forms_json)],
    );
    let answers = out.as_array().expect("a list of answers");
    assert_eq!(answers.len(), forms.len(), "one answer per form: {out}");
    forms
        .iter()
        .zip(answers)
        .map(|((key, _), answer)| Response {
            status: answer["status"].as_u64().expect("status") as u16,
            headers: answer["headers"]
                .as_array()
                .expect("headers")
                .iter()
                .map(|pair| {
                    let text = |i: usize| pair[i].as_str().unwrap_or_default().to_string();
                    (text(0), text(1))
                })
                .collect(),
            body: answer["body"].as_str().expect("body").as_bytes().to_vec(),
            request: format!("POST /{bucket} (form for key {key})"),
        })
        .collect()
}

/// `curl` GET of a URL into a file; returns the HTTP status.
/// An unsigned browser-form upload (POST Object with no policy): `key` and the file.
pub fn curl_post_form(url: &str, key: &str, file: &Path) -> u16 {
    let home = TempDir::new("curl-home");
    let mut cmd = clean_command("curl", home.path());
    cmd.args(["-sS", "-g", "-o", "/dev/null", "-w", "%{http_code}", "-F"])
        .arg(format!("key={key}"))
        .arg("-F")
        .arg(format!("file=@{}", file.display()))
        .arg(url);
    let out = run(&mut cmd, &format!("curl -F {url}"));
    assert_success(&out, "curl");
    stdout_of(&out)
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("curl printed no status: {}", stdout_of(&out)))
}

pub fn curl_get(url: &str, out_file: &Path) -> u16 {
    let home = TempDir::new("curl-home");
    let mut cmd = clean_command("curl", home.path());
    cmd.args(["-sS", "-g", "-o"])
        .arg(out_file)
        .args(["-w", "%{http_code}", url]);
    let out = run(&mut cmd, &format!("curl {url}"));
    assert_success(&out, "curl");
    stdout_of(&out)
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("curl printed no status: {}", stdout_of(&out)))
}
