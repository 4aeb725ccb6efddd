//! JupyterHub users created at launch: a random password per user, returned once in
//! [`Launched`](super::Launched) and never stored or logged; the request stores only its
//! SHA-512 crypt hash (`$6$`, what `chpasswd -e` takes), which the cluster's step sets.

use crate::model::ClusterSpec;
use crate::secret::Secret;
use sha2::{Digest, Sha512};

/// `spec` with each user's placeholder replaced by the hash of a new random password, and the
/// passwords, by user.
pub(crate) fn hashed(spec: &ClusterSpec) -> (ClusterSpec, Vec<(String, Secret)>) {
    let mut out = spec.clone();
    let mut passwords = Vec::new();
    for step in &mut out.steps {
        for arg in &mut step.hadoop_jar_step.args {
            if let Some(user) = crate::plan::placeholder_user(arg) {
                let password = random_password();
                let user = user.to_string();
                *arg = sha512_crypt(password.expose(), &salt());
                passwords.push((user, password));
            }
        }
    }
    (out, passwords)
}

/// 24 characters of crypt's alphabet from two v4 UUIDs' random bytes (144 bits).
fn random_password() -> Secret {
    let bytes = [uuid::Uuid::new_v4().into_bytes(), uuid::Uuid::new_v4().into_bytes()].concat();
    let random: Vec<u8> = bytes.iter().enumerate().filter(|(i, _)| !matches!(i % 16, 6 | 8)).map(|(_, b)| *b).collect();
    Secret::new(random.iter().take(24).map(|b| ITOA64[usize::from(b & 0x3f)] as char).collect::<String>())
}

const ITOA64: &[u8; 64] = b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// 16 random characters of crypt's alphabet.
fn salt() -> String {
    let bytes = uuid::Uuid::new_v4().into_bytes();
    bytes.iter().map(|b| ITOA64[usize::from(b & 0x3f)] as char).collect()
}

/// SHA-512 crypt (Drepper's specification, 5,000 rounds): `$6$<salt>$<hash>`.
pub(crate) fn sha512_crypt(password: &str, salt: &str) -> String {
    let (p, s) = (password.as_bytes(), &salt.as_bytes()[..salt.len().min(16)]);
    let b = Sha512::new().chain_update(p).chain_update(s).chain_update(p).finalize();
    let mut a = Sha512::new().chain_update(p).chain_update(s);
    a.update(repeat(&b, p.len()));
    let mut n = p.len();
    while n > 0 {
        a.update(if n & 1 == 1 { &b[..] } else { p });
        n >>= 1;
    }
    let a = a.finalize();
    let dp = (0..p.len()).fold(Sha512::new(), |h, _| h.chain_update(p)).finalize();
    let p2 = repeat(&dp, p.len());
    let ds = (0..16 + usize::from(a[0])).fold(Sha512::new(), |h, _| h.chain_update(s)).finalize();
    let s2 = repeat(&ds, s.len());
    let mut c = a;
    for i in 0..5000 {
        let mut h = Sha512::new();
        h.update(if i % 2 == 1 { &p2[..] } else { &c[..] });
        if i % 3 != 0 {
            h.update(&s2);
        }
        if i % 7 != 0 {
            h.update(&p2);
        }
        h.update(if i % 2 == 1 { &c[..] } else { &p2[..] });
        c = h.finalize();
    }
    format!("$6${}${}", String::from_utf8_lossy(s), encode(&c))
}

/// `digest` repeated to `len` bytes.
fn repeat(digest: &[u8], len: usize) -> Vec<u8> {
    digest.iter().copied().cycle().take(len).collect()
}

/// crypt's base-64 of a SHA-512 digest, in its byte order.
fn encode(c: &[u8]) -> String {
    let mut out = String::with_capacity(86);
    let mut put = |b2: u8, b1: u8, b0: u8, n: usize| {
        let mut w = (u32::from(b2) << 16) | (u32::from(b1) << 8) | u32::from(b0);
        for _ in 0..n {
            out.push(ITOA64[(w & 0x3f) as usize] as char);
            w >>= 6;
        }
    };
    for k in 0..21 {
        let (i, j, l) = (k, (k + 21) % 63, (k + 42) % 63);
        let order = [(i, j, l), (j, l, i), (l, i, j)][k % 3];
        put(c[order.0], c[order.1], c[order.2], 4);
    }
    put(0, 0, c[63], 2);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The specification's vector, and one `openssl passwd -6 -salt abc x` printed.
    #[test]
    fn sha512_crypt_matches_the_specification_and_openssl() {
        assert_eq!(
            sha512_crypt("Hello world!", "saltstring"),
            "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1"
        );
        assert_eq!(
            sha512_crypt("x", "abc"),
            "$6$abc$K4v3HcZ8yAmpRfxML6S46NCcqy9r4/KdbQpFvqSWsBf4dgySOEOo1DHJTrmn2BsJK2aNmPN8Tfb826D2o9.z51"
        );
    }
}
