//! ACM adapter: the account's issued certificates and their domain names, for certificate
//! discovery (`aws_lb_operator_core::certificates`).
use aws_lb_operator_core::certificates::AcmCertificate;
use aws_sdk_acm::types::{CertificateStatus, Filters, KeyAlgorithm};
use aws_sdk_acm::Client;

use super::error::{AwsError, Result};

const SERVICE: &str = "acm";

/// Every ISSUED certificate of the region, of every key type, sorted by ARN, with its domain
/// name and subject alternative names. The list's summaries carry the first names; a
/// certificate with more (`HasAdditionalSubjectAlternativeNames`) is described for all of them.
///
/// ListCertificates without a key-type filter returns only RSA_1024 and RSA_2048 certificates;
/// LBC asks for every key type in one call. Here the listing is two calls, the default one and
/// one filtered on the other key types, because LocalStack's ACM (moto) compares the filter
/// with its own spelling (`RSA-2048`) and answers a filtered call with nothing: both calls
/// together give every key type on AWS and on LocalStack.
pub async fn issued_certificates(client: &Client) -> Result<Vec<AcmCertificate>> {
    let others: Vec<KeyAlgorithm> = KeyAlgorithm::values()
        .iter()
        .map(|v| KeyAlgorithm::from(*v))
        .filter(|k| !matches!(k, KeyAlgorithm::Rsa1024 | KeyAlgorithm::Rsa2048))
        .collect();
    let mut out = list(client, None).await?;
    out.extend(list(client, Some(others)).await?);
    out.sort_by(|a, b| a.arn.cmp(&b.arn));
    out.dedup_by(|a, b| a.arn == b.arn);
    tracing::debug!(certificates = out.len(), "listed issued ACM certificates");
    Ok(out)
}

/// One listing of the issued certificates, with `key_types` as the filter when given.
async fn list(
    client: &Client,
    key_types: Option<Vec<KeyAlgorithm>>,
) -> Result<Vec<AcmCertificate>> {
    let mut request = client
        .list_certificates()
        .certificate_statuses(CertificateStatus::Issued);
    if let Some(key_types) = key_types {
        request = request.includes(Filters::builder().set_key_types(Some(key_types)).build());
    }
    let mut pages = request.into_paginator().send();
    let mut out = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::from_sdk(SERVICE, "ListCertificates", e))?;
        for summary in page.certificate_summary_list() {
            let Some(arn) = summary.certificate_arn() else {
                continue;
            };
            let mut domains: Vec<String> = summary
                .domain_name()
                .into_iter()
                .map(str::to_owned)
                .chain(summary.subject_alternative_name_summaries().iter().cloned())
                .collect();
            if summary.has_additional_subject_alternative_names() == Some(true) {
                let described = client
                    .describe_certificate()
                    .certificate_arn(arn)
                    .send()
                    .await
                    .map_err(|e| AwsError::from_sdk(SERVICE, "DescribeCertificate", e))?;
                if let Some(detail) = described.certificate() {
                    domains.extend(detail.subject_alternative_names().iter().cloned());
                }
            }
            domains.sort();
            domains.dedup();
            out.push(AcmCertificate {
                arn: arn.to_owned(),
                domains,
            });
        }
    }
    Ok(out)
}
