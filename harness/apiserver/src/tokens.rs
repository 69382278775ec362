//! Service account tokens as kube-apiserver issues and checks them
//! (`pkg/serviceaccount/claims.go`, `jwt.go`): a TokenRequest signs one, a
//! request presenting it as a bearer token acts as the service account, and
//! a TokenReview says whom it names. Operators that mint tokens for their
//! workloads, and tests of webhook or aggregated servers that review them,
//! see the claims and the checks a cluster makes.
//!
//! The key is an ECDSA P-256 key made at start-up (`ES256`, which
//! kube-apiserver accepts as a service-account key; kind's default key is
//! RSA), so tokens die with the server, as they do when a cluster's keys
//! rotate.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SystemRandom;
use ring::signature::{self, EcdsaKeyPair, KeyPair};
use serde_json::{Map, Value, json};

use crate::authz::User;
use crate::registry::GroupResource;
use crate::store::{State, meta};

/// The issuer, and so the default API audience, of a kind cluster
/// (`--service-account-issuer=https://kubernetes.default.svc.cluster.local`).
pub(crate) const ISSUER: &str = "https://kubernetes.default.svc.cluster.local";

/// `extra` key naming the token a request authenticated with.
const CREDENTIAL_ID: &str = "authentication.kubernetes.io/credential-id";

pub(crate) struct Signer {
    key: EcdsaKeyPair,
    /// Names the key in the JWS header as `keyIDFromPublicKey` does
    /// (base64url of a SHA-256), though of the raw point rather than its
    /// PKIX DER: nothing outside this server looks the key up.
    kid: String,
    rng: SystemRandom,
}

impl Signer {
    pub(crate) fn generate() -> Self {
        let rng = SystemRandom::new();
        let alg = &signature::ECDSA_P256_SHA256_FIXED_SIGNING;
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(alg, &rng).expect("the system has randomness");
        let key = EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref(), &rng)
            .expect("a key ring just made parses");
        let digest = ring::digest::digest(&ring::digest::SHA256, key.public_key().as_ref());
        Self {
            kid: URL_SAFE_NO_PAD.encode(digest.as_ref()),
            key,
            rng,
        }
    }

    /// A compact JWS of `claims`.
    pub(crate) fn sign(&self, claims: &Value) -> String {
        let header = json!({"alg": "ES256", "kid": self.kid});
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let sig = self
            .key
            .sign(&self.rng, input.as_bytes())
            .expect("signing with a valid key");
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
    }

    /// The claims of a token this server signed, or None for any other.
    fn verified_claims(&self, token: &str) -> Option<Value> {
        let (input, sig) = token.rsplit_once('.')?;
        let (_, payload) = input.split_once('.')?;
        let sig = URL_SAFE_NO_PAD.decode(sig).ok()?;
        signature::UnparsedPublicKey::new(
            &signature::ECDSA_P256_SHA256_FIXED,
            self.key.public_key().as_ref(),
        )
        .verify(input.as_bytes(), &sig)
        .ok()?;
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()
    }
}

/// Who a token names, once checked.
pub(crate) struct Authenticated {
    pub user: User,
    /// The token's audiences among those asked for.
    pub audiences: Vec<String>,
}

/// Seconds past `exp` a token still passes (go-jose `jwt.DefaultLeeway`).
const LEEWAY: i64 = 60;

/// Go's `%q` of a `[]string`: `["a" "b"]`.
fn go_quoted(list: &[String]) -> String {
    let items: Vec<String> = list.iter().map(|s| format!("{s:?}")).collect();
    format!("[{}]", items.join(" "))
}

/// Why a token is refused, as TokenReview's `status.error` says it.
pub(crate) const INVALID: &str = "invalid bearer token";

/// Checks a token as the service-account authenticator does: this
/// server's signature, an audience in `audiences`, not expired, and the
/// service account (and any object it is bound to) still there with the
/// UID it had.
pub(crate) fn authenticate(
    st: &State,
    signer: &Signer,
    token: &str,
    audiences: &[String],
) -> Result<Authenticated, String> {
    let claims = signer.verified_claims(token).ok_or(INVALID)?;
    if claims["iss"] != ISSUER {
        return Err(INVALID.into());
    }
    let token_audiences = meta::strings(claims.get("aud"));
    let shared: Vec<String> = audiences
        .iter()
        .filter(|a| token_audiences.contains(a))
        .cloned()
        .collect();
    if shared.is_empty() {
        return Err(format!(
            "token audiences {} is invalid for the target audiences {}",
            go_quoted(&token_audiences),
            go_quoted(audiences)
        ));
    }
    // go-jose's `jwt.DefaultLeeway`: a minute past `exp` still passes.
    let now = st.clock.now().as_second();
    if claims["exp"].as_i64().is_none_or(|exp| exp + LEEWAY < now) {
        return Err("service account token has expired".into());
    }
    let k8s = &claims["kubernetes.io"];
    let namespace = k8s["namespace"].as_str().unwrap_or("");
    let sa = &k8s["serviceaccount"];
    let name = sa["name"].as_str().unwrap_or("");
    let uid_of = |plural: &str, ns: &str, name: &str| {
        st.get(
            &GroupResource::new("", plural),
            &(ns.to_string(), name.to_string()),
        )
        .map(|o| meta::uid(&o).to_string())
    };
    let invalidated = || "service account token has been invalidated".to_string();
    let live_uid = uid_of("serviceaccounts", namespace, name).ok_or_else(invalidated)?;
    let claimed_uid = sa["uid"].as_str().unwrap_or("");
    if live_uid != claimed_uid {
        return Err(format!(
            "service account UID ({live_uid}) does not match claim ({claimed_uid})"
        ));
    }
    let mut extra = Map::new();
    let mut add = |k: &str, v: &str| {
        extra.insert(format!("authentication.kubernetes.io/{k}"), json!([v]));
    };
    for (kind, plural, ns) in [
        ("pod", "pods", namespace),
        ("secret", "secrets", namespace),
        ("node", "nodes", ""),
    ] {
        let Some(bound) = k8s.get(kind).filter(|b| b.is_object()) else {
            continue;
        };
        let bound_name = bound["name"].as_str().unwrap_or("");
        let uid = uid_of(plural, ns, bound_name).ok_or_else(invalidated)?;
        if bound["uid"].as_str().is_some_and(|u| u != uid) {
            return Err(invalidated());
        }
        if kind != "secret" {
            add(&format!("{kind}-name"), bound_name);
            add(&format!("{kind}-uid"), &uid);
        }
    }
    if let Some(jti) = claims["jti"].as_str() {
        extra.insert(CREDENTIAL_ID.into(), json!([format!("JTI={jti}")]));
    }
    Ok(Authenticated {
        user: User {
            name: format!("system:serviceaccount:{namespace}:{name}"),
            uid: live_uid,
            groups: vec![
                "system:serviceaccounts".into(),
                format!("system:serviceaccounts:{namespace}"),
                "system:authenticated".into(),
            ],
            extra,
        },
        audiences: shared,
    })
}

/// Whether a bearer token claims to come from this server's issuer (so a
/// failed check must refuse the request rather than fall back).
pub(crate) fn is_ours(token: &str) -> bool {
    let payload = token.split('.').nth(1).unwrap_or("");
    URL_SAFE_NO_PAD
        .decode(payload)
        .ok()
        .and_then(|p| serde_json::from_slice::<Value>(&p).ok())
        .is_some_and(|c| c["iss"] == ISSUER)
}
