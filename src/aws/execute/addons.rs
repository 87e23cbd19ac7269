//! WAFv2 and Shield Advanced changes: a load balancer's web ACL and its Shield protection.
use aws_lb_operator_core::planner::Op;

use super::{sdk_err, Ctx, ExecuteError, Stop};
use crate::aws::AwsClients;

/// Performs one WAFv2 or Shield change.
pub(super) async fn execute(
    clients: &AwsClients,
    op: &Op,
    ctx: &Ctx<'_>,
) -> Result<Option<String>, Stop> {
    match op {
        Op::AssociateWebAcl {
            load_balancer,
            web_acl_arn,
        } => {
            let lb = ctx.r("load balancer", load_balancer)?;
            // Associating replaces the current web ACL, and associating the same one again
            // is accepted: a lost response is simply sent again.
            clients
                .wafv2
                .associate_web_acl()
                .resource_arn(lb)
                .web_acl_arn(web_acl_arn)
                .send()
                .await
                .map_err(sdk_err("wafv2", "AssociateWebACL"))?;
            Ok(None)
        }
        Op::DisassociateWebAcl { load_balancer } => {
            clients
                .wafv2
                .disassociate_web_acl()
                .resource_arn(load_balancer)
                .send()
                .await
                .map_err(sdk_err("wafv2", "DisassociateWebACL"))?;
            Ok(None)
        }
        Op::CreateProtection {
            load_balancer,
            name,
        } => {
            let lb = ctx.r("load balancer", load_balancer)?;
            let created = clients
                .shield
                .create_protection()
                .name(name)
                .resource_arn(&lb)
                .send()
                .await
                .map_err(sdk_err("shield", "CreateProtection"));
            match created {
                Ok(_) => Ok(None),
                // A lost response retried: the protection is there.
                Err(e) if e.has_code("ResourceAlreadyExistsException") => {
                    tracing::info!(load_balancer = %lb, "shield protection already exists");
                    Ok(None)
                }
                Err(e) => Err(e.into()),
            }
        }
        Op::DeleteProtection { protection_id, .. } => {
            let deleted = clients
                .shield
                .delete_protection()
                .protection_id(protection_id)
                .send()
                .await
                .map_err(sdk_err("shield", "DeleteProtection"));
            match deleted {
                Ok(_) => Ok(None),
                Err(e) if e.has_code("ResourceNotFoundException") => {
                    tracing::info!(protection = %protection_id, "already gone");
                    Ok(None)
                }
                Err(e) => Err(e.into()),
            }
        }
        other => Err(Stop::Fail(ExecuteError::WrongService {
            service: "wafv2/shield",
            operation: other.operation(),
        })),
    }
}
