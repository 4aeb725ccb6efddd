//! A throwaway OpenLDAP server: its own config and database in a temporary folder, on a free
//! loopback port, loaded from an LDIF, stopped when dropped.

use super::servers;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub(crate) const BASE: &str = "dc=example,dc=com";
pub(crate) const ADMIN_DN: &str = "cn=admin,dc=example,dc=com";
pub(crate) const SERVICE_DN: &str = "cn=svc-mliy,ou=people,dc=example,dc=com";
pub(crate) const SERVICE_PASSWORD: &str = "svc-Secret-4821";

/// Attributes of AD that the tests' "AD" entries carry, as a small schema.
const AD_SCHEMA: &str = "\
attributetype ( 1.3.6.1.4.1.99999.1.1 NAME 'sAMAccountName' EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
attributetype ( 1.3.6.1.4.1.99999.1.2 NAME 'userAccountControl' EQUALITY integerMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.27 SINGLE-VALUE )
attributetype ( 1.3.6.1.4.1.99999.1.3 NAME 'userPrincipalName' EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
objectclass ( 1.3.6.1.4.1.99999.2.1 NAME 'mliyAdUser' SUP top AUXILIARY MAY ( sAMAccountName $ userAccountControl $ userPrincipalName ) )
";

pub(crate) struct Slapd {
    child: Child,
    pub(crate) url: String,
    /// `ldaps://…` when started with TLS.
    pub(crate) ldaps_url: Option<String>,
    /// The test CA's certificate (PEM) when started with TLS.
    pub(crate) ca_file: Option<std::path::PathBuf>,
    _dir: tempfile::TempDir,
}

/// How to start the server.
#[derive(Clone, Copy)]
pub(crate) struct Options {
    /// Load the memberOf overlay.
    pub(crate) memberof: bool,
    /// Serve TLS (StartTLS and ldaps://) with a certificate from a throwaway CA.
    pub(crate) tls: bool,
}

impl Drop for Slapd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

impl Slapd {
    /// Starts slapd with the memberOf overlay and loads `ldif`; `None` when slapd is missing.
    pub(crate) fn start(ldif: &str) -> Option<Slapd> {
        Self::start_with(ldif, Options { memberof: true, tls: false })
    }

    /// Starts slapd as `options` say and loads `ldif`; `None` when slapd is missing.
    pub(crate) fn start_with(ldif: &str, options: Options) -> Option<Slapd> {
        let slapd = servers::find("slapd", &["/usr/sbin/slapd"])?;
        let ldapadd = servers::find("ldapadd", &["/usr/bin/ldapadd"])?;
        let dir = tempfile::tempdir().expect("temp dir");
        let path = |name: &str| dir.path().join(name);
        std::fs::create_dir(path("db")).expect("db dir");
        std::fs::write(path("ad.schema"), AD_SCHEMA).expect("schema");
        let tls = if options.tls {
            servers::find("openssl", &["/usr/bin/openssl"])?;
            servers::make_certificates(dir.path());
            format!(
                "TLSCACertificateFile {}\nTLSCertificateFile {}\nTLSCertificateKeyFile {}\n",
                path("ca.pem").display(),
                path("server.pem").display(),
                path("server.key").display()
            )
        } else {
            String::new()
        };
        let memberof = if options.memberof {
            "overlay memberof\nmemberof-group-oc groupOfNames\nmemberof-member-ad member\nmemberof-memberof-ad memberOf\n"
        } else {
            ""
        };
        let conf = format!(
            "include /etc/ldap/schema/core.schema\ninclude /etc/ldap/schema/cosine.schema\n\
             include /etc/ldap/schema/inetorgperson.schema\ninclude {schema}\n\
             pidfile {pid}\nmodulepath /usr/lib/ldap\nmoduleload back_mdb\nmoduleload memberof\n{tls}\
             database mdb\nsuffix \"{BASE}\"\nrootdn \"{ADMIN_DN}\"\nrootpw admin-pw\ndirectory {db}\n\
             {memberof}\
             access to attrs=userPassword by self write by anonymous auth by * none\n\
             access to * by users read by anonymous auth\n",
            schema = path("ad.schema").display(),
            pid = path("slapd.pid").display(),
            db = path("db").display(),
        );
        std::fs::write(path("slapd.conf"), conf).expect("config");
        let mut command = Command::new(slapd);
        if is_root() {
            // Run unprivileged, as Debian's openldap user.
            Command::new("chown").args(["-R", "openldap:openldap"]).arg(dir.path()).status().expect("chown");
            command.args(["-u", "openldap", "-g", "openldap"]);
        }
        let port = servers::free_port();
        let url = format!("ldap://127.0.0.1:{port}");
        let ldaps_url = options.tls.then(|| format!("ldaps://127.0.0.1:{}", servers::free_port()));
        let listen = match &ldaps_url {
            Some(ldaps) => format!("{url}/ {ldaps}/"),
            None => format!("{url}/"),
        };
        let ca_file = options.tls.then(|| path("ca.pem"));
        let child = command
            .arg("-f")
            .arg(path("slapd.conf"))
            .args(["-h", &listen, "-d", "0"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start slapd");
        let server = Slapd { child, url, ldaps_url, ca_file, _dir: dir };
        // Ready when it answers LDAP, not merely when the port is open.
        let deadline = Instant::now() + Duration::from_secs(15);
        let answers = || {
            Command::new("ldapwhoami")
                .args(["-x", "-H", &server.url])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        while !answers() {
            assert!(Instant::now() < deadline, "slapd did not answer on {}", server.url);
            std::thread::sleep(Duration::from_millis(50));
        }
        server.add(&ldapadd, ldif);
        Some(server)
    }

    fn add(&self, ldapadd: &Path, ldif: &str) {
        let mut child = Command::new(ldapadd)
            .args(["-x", "-H", &self.url, "-D", ADMIN_DN, "-w", "admin-pw"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("ldapadd");
        use std::io::Write;
        child.stdin.take().expect("stdin").write_all(ldif.as_bytes()).expect("write LDIF");
        let out = child.wait_with_output().expect("ldapadd output");
        assert!(out.status.success(), "ldapadd: {}", String::from_utf8_lossy(&out.stderr));
    }
}

/// People, groups (one nested) and a service account, with AD-like attributes on the people.
pub(crate) fn directory() -> String {
    let person = |uid: &str, name: &str, password: &str, uac: u32| {
        format!(
            "dn: uid={uid},ou=people,{BASE}\nobjectClass: inetOrgPerson\nobjectClass: mliyAdUser\nuid: {uid}\n\
             cn: {name}\nsn: {name}\ndisplayName: {name}\nmail: {uid}@example.com\nsAMAccountName: {uid}\n\
             userPrincipalName: {uid}@example.com\nuserAccountControl: {uac}\nuserPassword: {password}\n\n"
        )
    };
    let group = |cn: &str, members: &[&str]| {
        let members: String = members.iter().map(|m| format!("member: {m}\n")).collect();
        format!("dn: cn={cn},ou=groups,{BASE}\nobjectClass: groupOfNames\ncn: {cn}\n{members}\n")
    };
    let people = |uid: &str| format!("uid={uid},ou=people,{BASE}");
    let mut ldif = format!(
        "dn: {BASE}\nobjectClass: dcObject\nobjectClass: organization\no: Example\ndc: example\n\n\
         dn: ou=people,{BASE}\nobjectClass: organizationalUnit\nou: people\n\n\
         dn: ou=groups,{BASE}\nobjectClass: organizationalUnit\nou: groups\n\n\
         dn: {SERVICE_DN}\nobjectClass: inetOrgPerson\ncn: svc-mliy\nsn: svc\nuserPassword: {SERVICE_PASSWORD}\n\n"
    );
    ldif += &person("alice", "Alice Liddell", "alice-Pw-1", 512);
    ldif += &person("bob", "Bob Archive", "bob-Pw-2", 512);
    ldif += &person("carol", "Carol Admin", "carol-Pw-3", 512);
    ldif += &person("dave", "Dave Disabled", "dave-Pw-4", 514);
    ldif += &group("data-science", &[&people("alice")]);
    ldif += &group("analytics", &[&format!("cn=data-science,ou=groups,{BASE}")]);
    ldif += &group("admins", &[&people("carol")]);
    ldif += &group("admins-archive", &[&people("bob")]);
    ldif
}
