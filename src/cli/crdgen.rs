//! `aws-lb-operator crdgen`: prints the CustomResourceDefinitions of `TargetGroupBinding` and
//! `IngressClassParams` (what `crds/crds.yaml` and the Helm chart's `crds/` hold).
use std::io::Write;
use std::process::ExitCode;

/// Prints the multi-document CRD YAML to stdout.
pub fn run() -> ExitCode {
    match crate::crd::crds_yaml() {
        Ok(yaml) => match std::io::stdout().lock().write_all(yaml.as_bytes()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: cannot write the CRDs: {e}");
                ExitCode::FAILURE
            }
        },
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
