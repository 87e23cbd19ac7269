//! `spec.iamRoleArnToAssume` of TargetGroupBindings: ELBv2 clients acting as another role (a
//! target group in another account), as the AWS Load Balancer Controller makes them: one
//! `sts:AssumeRole` per role and external id (session name `AWS-LBC-<cluster>`), its temporary
//! credentials used until 30 s before they expire, then assumed again.
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_config::SdkConfig;

use super::calls::CallCounter;
use super::error::AwsError;

/// Credentials are renewed this long before they expire (LBC's `cacheTTLBufferTime`).
const EXPIRY_MARGIN: Duration = Duration::from_secs(30);
/// Session names are at most this long.
const MAX_SESSION_NAME: usize = 2047;

/// The session name LBC uses: `AWS-LBC-` and the cluster name without the characters STS
/// refuses.
#[must_use]
pub fn session_name(cluster: &str) -> String {
    let safe: String = cluster
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "=,.@-_".contains(*c))
        .collect();
    let mut name = format!("AWS-LBC-{safe}");
    name.truncate(MAX_SESSION_NAME);
    name
}

type Key = (String, String);

/// Assumed-role ELBv2 clients, cached per role and external id until their credentials expire.
#[derive(Debug, Clone)]
pub struct AssumedRoles {
    config: SdkConfig,
    sts: aws_sdk_sts::Client,
    calls: CallCounter,
    cache:
        Arc<tokio::sync::Mutex<HashMap<Key, (aws_sdk_elasticloadbalancingv2::Client, SystemTime)>>>,
}

impl AssumedRoles {
    /// Built from the operator's own configuration (its credentials call STS).
    pub fn new(config: &SdkConfig, calls: &CallCounter) -> Self {
        let sts = aws_sdk_sts::Client::from_conf(
            aws_sdk_sts::config::Builder::from(config)
                .interceptor(calls.interceptor("sts"))
                .build(),
        );
        Self {
            config: config.clone(),
            sts,
            calls: calls.clone(),
            cache: Arc::default(),
        }
    }

    /// An ELBv2 client acting as `role` (with `external_id` when given).
    ///
    /// # Errors
    /// AssumeRole failed, or answered without credentials.
    pub async fn elbv2(
        &self,
        role: &str,
        external_id: Option<&str>,
        cluster: &str,
    ) -> Result<aws_sdk_elasticloadbalancingv2::Client, AwsError> {
        let key = (role.to_owned(), external_id.unwrap_or_default().to_owned());
        let mut cache = self.cache.lock().await;
        if let Some((client, until)) = cache.get(&key) {
            if SystemTime::now() < *until {
                return Ok(client.clone());
            }
        }
        tracing::info!(role, "assuming role for ELBv2 calls");
        let out = self
            .sts
            .assume_role()
            .role_arn(role)
            .role_session_name(session_name(cluster))
            .set_external_id(external_id.filter(|e| !e.is_empty()).map(str::to_owned))
            .send()
            .await
            .map_err(|e| AwsError::from_sdk("sts", "AssumeRole", e))?;
        let Some(c) = out.credentials() else {
            return Err(AwsError {
                service: "sts",
                operation: "AssumeRole",
                code: "NoCredentials".to_owned(),
                message: "AssumeRole answered without credentials".to_owned(),
                status: None,
                kind: super::AwsErrorKind::Other,
                attempts: None,
                elapsed: None,
            });
        };
        let expires = SystemTime::try_from(*c.expiration()).unwrap_or_else(|_| SystemTime::now());
        let creds = aws_sdk_elasticloadbalancingv2::config::Credentials::new(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token().to_owned()),
            Some(expires),
            "sts-assume-role",
        );
        let client = aws_sdk_elasticloadbalancingv2::Client::from_conf(
            aws_sdk_elasticloadbalancingv2::config::Builder::from(&self.config)
                .credentials_provider(
                    aws_sdk_elasticloadbalancingv2::config::SharedCredentialsProvider::new(creds),
                )
                .interceptor(self.calls.interceptor("elbv2"))
                .build(),
        );
        let until = expires
            .checked_sub(EXPIRY_MARGIN)
            .unwrap_or_else(SystemTime::now);
        cache.insert(key, (client.clone(), until));
        Ok(client)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_names_are_lbcs() {
        assert_eq!(session_name("prod"), "AWS-LBC-prod");
        assert_eq!(session_name("my cluster/é:1"), "AWS-LBC-mycluster1");
        assert_eq!(session_name("a=b,c.d@e-f_g"), "AWS-LBC-a=b,c.d@e-f_g");
        assert_eq!(session_name(&"x".repeat(3000)).len(), 2047);
    }
}
