//! JupyterHub users created at launch: a password per user derived from the engine's key
//! (returned once, in [`Launched`](super::Launched), never stored or logged), and only its
//! SHA-512 crypt hash (`$6$`, what `chpasswd -e` takes) in the step the cluster runs; the
//! stored request holds placeholders, filled in when RunJobFlow is sent.

use crate::lifecycle::Resource;
use crate::model::ClusterSpec;
use crate::model::LaunchId;
use crate::secret::Secret;
use sha2::{Digest, Sha512};

/// `user`'s password for the launch `id`.
pub(crate) fn password(key: &Secret, id: &LaunchId, user: &str) -> Secret {
    let mac = super::progress::hmac_hex(key.expose().as_bytes(), format!("mliy-jupyter:{id}:{user}").as_bytes());
    Secret::new(mac[..24].to_string())
}

/// The request as sent: every placeholder replaced by its user's hash under a fresh salt.
pub(crate) fn fill(spec: &ClusterSpec, key: &Secret, r: &Resource) -> ClusterSpec {
    let mut out = spec.clone();
    for step in &mut out.steps {
        for arg in &mut step.hadoop_jar_step.args {
            if let Some(user) = crate::plan::placeholder_user(arg) {
                *arg = sha512_crypt(password(key, &r.id, user).expose(), &salt());
            }
        }
    }
    out
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
