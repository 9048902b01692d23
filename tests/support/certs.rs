//! Test PKI made with the `openssl` CLI: a CA, a broker certificate for
//! 127.0.0.1/localhost, and client certificates whose CN is the MQTT identity.

use std::path::{Path, PathBuf};
use std::process::Command;

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl is not installed: run .ci/install-deps");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

pub struct Pki {
    pub dir: PathBuf,
    pub ca: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
}

const EC: [&str; 4] = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];

impl Pki {
    /// A CA (named `name`) and a broker certificate signed by it.
    pub fn new(dir: &Path, name: &str) -> Pki {
        std::fs::create_dir_all(dir).unwrap();
        let subj = format!("/CN={name}");
        let mut a = vec!["req", "-x509"];
        a.extend(EC);
        a.extend(["-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "3", "-subj", &subj]);
        a.extend(["-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
        openssl(dir, &a);
        let pki = Pki { dir: dir.to_path_buf(), ca: dir.join("ca.pem"), server_cert: dir.join("server.pem"), server_key: dir.join("server.key") };
        pki.issue("server", "localhost", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n");
        pki
    }

    fn issue(&self, file: &str, cn: &str, ext: &str) -> (PathBuf, PathBuf) {
        let d = &self.dir;
        std::fs::write(d.join(format!("{file}.ext")), format!("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n{ext}")).unwrap();
        let (key, csr, pem, extf, subj) = (format!("{file}.key"), format!("{file}.csr"), format!("{file}.pem"), format!("{file}.ext"), format!("/CN={cn}"));
        let mut a = vec!["req"];
        a.extend(EC);
        a.extend(["-nodes", "-keyout", &key, "-out", &csr, "-subj", &subj]);
        openssl(d, &a);
        openssl(d, &["x509", "-req", "-in", &csr, "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", &pem, "-days", "2", "-extfile", &extf]);
        (d.join(pem), d.join(key))
    }

    /// A client certificate with CN `identity` (the MQTT username under `use_identity_as_username`).
    pub fn client(&self, identity: &str) -> (PathBuf, PathBuf) {
        self.issue(&format!("client-{identity}"), identity, "extendedKeyUsage=clientAuth\n")
    }
}
