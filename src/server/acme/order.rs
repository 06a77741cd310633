//! One certificate from an ACME server, through `instant-acme`: the account (created once,
//! kept in the cache), an order for one name, its TLS-ALPN-01 authorization answered on the
//! serving port, the key and signing request (`rcgen`), and the issued chain.

use std::{sync::Arc, time::Duration};

use hyper_util::{client::legacy::Client, rt::TokioExecutor};
use instant_acme::{
    Account, AccountBuilder, AccountCredentials, AuthorizationStatus, ChallengeType, Identifier,
    NewAccount, NewOrder, Order, OrderStatus, RetryPolicy,
};
use rcgen::{CertificateParams, DistinguishedName, KeyPair};
use rustls::{crypto::CryptoProvider, ClientConfig};

use super::{cache::Cache, challenge::Challenges, AcmeConfig, AcmeError};

/// The problem type of a request from an account the server does not know (a test server
/// restarted, say): the account is created again.
const ACCOUNT_DOES_NOT_EXIST: &str = "urn:ietf:params:acme:error:accountDoesNotExist";

/// What one order produced: the chain (leaf first) and its private key, both PEM.
pub(super) struct Issued {
    pub(super) chain_pem: String,
    pub(super) key_pem: String,
}

/// The account for `config`'s directory: the fleet's (with
/// [`storage`](AcmeConfig::storage)), or the one saved in the cache, or a new one (agreeing
/// to the server's terms of service), saved. A fleet makes one account, under a lease.
pub(super) async fn account(
    config: &AcmeConfig,
    cache: &Cache,
    provider: &Arc<CryptoProvider>,
    fresh: bool,
) -> Result<Account, AcmeError> {
    let Some(fleet) = &config.fleet else {
        return own_account(config, cache, provider, fresh).await;
    };
    let unreachable = |e: instant_acme::Error| AcmeError::Unreachable(Arc::new(e));
    if !fresh {
        if let Some(credentials) = shared_account(fleet, config).await? {
            return builder(config, provider)?
                .from_credentials(credentials)
                .await
                .map_err(unreachable);
        }
    }
    let lease = fleet.account_lease().await.map_err(AcmeError::storage)?;
    let made = async {
        // Made by another instance while this one waited for the lease.
        if !fresh {
            if let Some(credentials) = shared_account(fleet, config).await? {
                return builder(config, provider)?
                    .from_credentials(credentials)
                    .await
                    .map_err(unreachable);
            }
        }
        let (account, credentials) = new_account(config, cache, provider).await?;
        fleet
            .save_account(&config.directory, &credentials)
            .await
            .map_err(AcmeError::storage)?;
        Ok(account)
    }
    .await;
    fleet.release(&lease).await;
    made
}

/// The fleet's account credentials for `config`'s directory, if it has an account.
async fn shared_account(
    fleet: &super::fleet::Fleet,
    config: &AcmeConfig,
) -> Result<Option<AccountCredentials>, AcmeError> {
    let saved = fleet
        .account(&config.directory)
        .await
        .map_err(AcmeError::storage)?;
    Ok(saved.and_then(|v| serde_json::from_value::<AccountCredentials>(v).ok()))
}

/// This instance's own account: the one saved in the cache, or a new one, saved.
async fn own_account(
    config: &AcmeConfig,
    cache: &Cache,
    provider: &Arc<CryptoProvider>,
    fresh: bool,
) -> Result<Account, AcmeError> {
    let unreachable = |e: instant_acme::Error| AcmeError::Unreachable(Arc::new(e));
    if !fresh {
        let saved = cache.account(&config.directory)?;
        if let Some(credentials) =
            saved.and_then(|v| serde_json::from_value::<AccountCredentials>(v).ok())
        {
            return builder(config, provider)?
                .from_credentials(credentials)
                .await
                .map_err(unreachable);
        }
    }
    new_account(config, cache, provider)
        .await
        .map(|(account, _)| account)
}

/// A new account, agreeing to the server's terms of service, saved in the cache; and its
/// credentials.
async fn new_account(
    config: &AcmeConfig,
    cache: &Cache,
    provider: &Arc<CryptoProvider>,
) -> Result<(Account, serde_json::Value), AcmeError> {
    let contact: Vec<&str> = config.contact.iter().map(String::as_str).collect();
    let new = NewAccount {
        contact: &contact,
        terms_of_service_agreed: true,
        only_return_existing: false,
    };
    let (account, credentials) = builder(config, provider)?
        .create(&new, config.directory.clone(), None)
        .await
        .map_err(|e| AcmeError::from_client("(new account)", e))?;
    let credentials = serde_json::to_value(&credentials).map_err(|e| {
        AcmeError::cache(
            cache.dir(),
            std::io::Error::new(std::io::ErrorKind::InvalidData, e),
        )
    })?;
    cache.save_account(&config.directory, credentials.clone())?;
    Ok((account, credentials))
}

/// An account builder whose HTTP client trusts `config`'s roots, or the platform's.
fn builder(
    config: &AcmeConfig,
    provider: &Arc<CryptoProvider>,
) -> Result<AccountBuilder, AcmeError> {
    let Some(roots) = &config.roots else {
        return Account::builder().map_err(|e| AcmeError::Unreachable(Arc::new(e)));
    };
    let tls = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| AcmeError::Crypto(e.to_string()))?
        .with_root_certificates(roots.clone())
        .with_no_client_auth();
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_only()
        .enable_http1()
        .build();
    let client = Client::builder(TokioExecutor::new()).build(https);
    Ok(Account::builder_with_http(Box::new(client)))
}

/// The problem type of a request whose nonce the server rejected. `instant-acme` retries a
/// request twice; a server that rejects nonces at random (Pebble rejects 5 %) can still
/// reject three in a row, so the whole order is tried again.
const BAD_NONCE: &str = "urn:ietf:params:acme:error:badNonce";

/// Whether `error` says the server rejected a nonce.
pub(super) fn bad_nonce(error: &AcmeError) -> bool {
    matches!(error, AcmeError::Refused { problem: Some(p), .. } if p == BAD_NONCE)
}

/// Whether `error` says the server does not know the account.
pub(super) fn account_unknown(error: &AcmeError) -> bool {
    matches!(error, AcmeError::Refused { problem: Some(p), .. } if p == ACCOUNT_DOES_NOT_EXIST)
}

/// Orders a certificate for `name`, answering its TLS-ALPN-01 challenge through
/// `challenges` (which the serving port's chooser reads) until the order is decided; with a
/// `fleet`, the challenge goes to the fleet's storage too, and the server is told to
/// validate once every instance can answer it.
pub(super) async fn order(
    account: &Account,
    name: &str,
    challenges: &Challenges,
    fleet: Option<&super::fleet::Fleet>,
    provider: &Arc<CryptoProvider>,
    poll_for: Duration,
) -> Result<Issued, AcmeError> {
    let client = |e| AcmeError::from_client(name, e);
    let identifiers = [Identifier::Dns(name.to_string())];
    let mut order = account
        .new_order(&NewOrder::new(&identifiers))
        .await
        .map_err(client)?;
    let mut authorizations = order.authorizations();
    while let Some(authorization) = authorizations.next().await {
        let mut authorization = authorization.map_err(client)?;
        match authorization.status {
            // The server remembers an earlier validation of this name for this account.
            AuthorizationStatus::Valid => continue,
            AuthorizationStatus::Pending => {}
            status => {
                return Err(AcmeError::Invalid {
                    name: name.to_string(),
                    detail: format!("authorization is {status:?}"),
                })
            }
        }
        let mut challenge = authorization
            .challenge(ChallengeType::TlsAlpn01)
            .ok_or_else(|| AcmeError::NoTlsAlpnChallenge {
                name: name.to_string(),
            })?;
        let digest = challenge.key_authorization().digest();
        challenges.insert(name, digest.as_ref(), provider)?;
        if let Some(fleet) = fleet {
            // The validation may reach any instance: each must answer it first.
            fleet
                .publish_challenge(name, digest.as_ref())
                .await
                .map_err(AcmeError::storage)?;
            tokio::time::sleep(fleet.propagation()).await;
        }
        challenge.set_ready().await.map_err(client)?;
    }
    let polling = RetryPolicy::new()
        .initial_delay(Duration::from_millis(100))
        .timeout(poll_for);
    match order.poll_ready(&polling).await.map_err(client)? {
        OrderStatus::Ready => {}
        _ => return Err(invalid(&mut order, name).await),
    }
    let key = KeyPair::generate().map_err(|e| AcmeError::Crypto(e.to_string()))?;
    let mut params = CertificateParams::new(vec![name.to_string()])
        .map_err(|e| AcmeError::Crypto(e.to_string()))?;
    params.distinguished_name = DistinguishedName::new();
    let csr = params
        .serialize_request(&key)
        .map_err(|e| AcmeError::Crypto(e.to_string()))?;
    order.finalize_csr(csr.der()).await.map_err(client)?;
    let chain_pem = order.poll_certificate(&polling).await.map_err(client)?;
    Ok(Issued {
        chain_pem,
        key_pem: key.serialize_pem(),
    })
}

/// Why an order ended invalid: the first challenge error the server reports.
async fn invalid(order: &mut Order, name: &str) -> AcmeError {
    let mut detail = String::from("the order is invalid");
    let mut authorizations = order.authorizations();
    while let Some(Ok(mut authorization)) = authorizations.next().await {
        if let Ok(state) = authorization.refresh().await {
            if let Some(problem) = state.challenges.iter().find_map(|c| c.error.as_ref()) {
                detail = problem.to_string();
                break;
            }
        }
    }
    AcmeError::Invalid {
        name: name.to_string(),
        detail,
    }
}
