//! AWS through the AWS SDK: [`AwsCloud`] (feature `aws`) and the connection options shared
//! with the Route53 DNS plugin.
//!
//! ```no_run
//! # async fn demo() -> mliy_core::Result<()> {
//! use mliy_plugins::aws::{AwsCloud, AwsOptions};
//! // The environment's region and credentials (AWS_REGION, AWS_ENDPOINT_URL, profiles, roles):
//! let cloud = AwsCloud::from_env().await?;
//! // An emulator on loopback:
//! let moto = AwsCloud::connect(
//!     AwsOptions::new()
//!         .region("us-east-1")
//!         .endpoint_url("http://127.0.0.1:5000")
//!         .credentials("testing", mliy_core::secret::Secret::new("testing")),
//! )
//! .await?;
//! # Ok(()) }
//! ```

pub(crate) mod errors;
mod options;

#[cfg(feature = "route53")]
pub(crate) use errors::map as map_error;
pub use options::AwsOptions;

#[cfg(feature = "aws")]
mod cfn;
#[cfg(feature = "aws")]
mod ec2;
#[cfg(feature = "aws")]
mod emr;
#[cfg(feature = "aws")]
mod emr_request;
#[cfg(feature = "aws")]
mod ssm;

#[cfg(feature = "aws")]
pub use cloud::AwsCloud;

#[cfg(feature = "aws")]
mod cloud {
    use super::{AwsOptions, cfn, ec2, emr, ssm};
    use async_trait::async_trait;
    use mliy_core::Result;
    use mliy_core::cloud::{
        ClusterInfo, ClusterState, CommandInvocation, CommandSpec, InstanceFilter, InstanceInfo, Page, StackInfo,
        StackResource, StepInfo,
    };
    use mliy_core::model::ClusterSpec;
    use mliy_core::model::StackSpec;
    use mliy_core::pricing::Decimal;
    use std::time::Duration;

    /// [`Cloud`](mliy_core::cloud::Cloud) over CloudFormation, EC2, EMR and SSM.
    #[derive(Debug, Clone)]
    pub struct AwsCloud {
        cfn: aws_sdk_cloudformation::Client,
        ec2: aws_sdk_ec2::Client,
        emr: aws_sdk_emr::Client,
        ssm: aws_sdk_ssm::Client,
    }

    impl AwsCloud {
        /// Connects with the environment's configuration.
        ///
        /// # Errors
        /// As [`AwsOptions::load`].
        pub async fn from_env() -> Result<AwsCloud> {
            Self::connect(AwsOptions::new()).await
        }

        /// Connects with `options` (no call is made until the engine needs one).
        ///
        /// # Errors
        /// As [`AwsOptions::load`].
        pub async fn connect(options: AwsOptions) -> Result<AwsCloud> {
            let sdk = options.load().await?;
            Ok(AwsCloud {
                cfn: aws_sdk_cloudformation::Client::new(&sdk),
                ec2: aws_sdk_ec2::Client::new(&sdk),
                emr: aws_sdk_emr::Client::new(&sdk),
                ssm: aws_sdk_ssm::Client::new(&sdk),
            })
        }
    }

    #[async_trait]
    impl mliy_core::cloud::Cloud for AwsCloud {
        async fn create_stack(&self, spec: &StackSpec) -> Result<String> {
            cfn::create_stack(&self.cfn, spec).await
        }
        async fn describe_stack(&self, name_or_id: &str) -> Result<Option<StackInfo>> {
            cfn::describe_stack(&self.cfn, name_or_id).await
        }
        async fn list_stacks(&self, next: Option<String>) -> Result<Page<StackInfo>> {
            cfn::list_stacks(&self.cfn, next).await
        }
        async fn stack_events(&self, stack_id: &str) -> Result<Vec<mliy_core::cloud::StackEvent>> {
            cfn::stack_events(&self.cfn, stack_id).await
        }
        async fn stack_resources(&self, stack_id: &str) -> Result<Vec<StackResource>> {
            cfn::stack_resources(&self.cfn, stack_id).await
        }
        async fn delete_stack(&self, stack_id: &str) -> Result<()> {
            cfn::delete_stack(&self.cfn, stack_id).await
        }
        async fn describe_instances(
            &self,
            filter: &InstanceFilter,
            next: Option<String>,
        ) -> Result<Page<InstanceInfo>> {
            ec2::describe_instances(&self.ec2, filter, next).await
        }
        async fn start_instances(&self, ids: &[String]) -> Result<()> {
            ec2::start_instances(&self.ec2, ids).await
        }
        async fn stop_instances(&self, ids: &[String]) -> Result<()> {
            ec2::stop_instances(&self.ec2, ids).await
        }
        async fn reboot_instances(&self, ids: &[String]) -> Result<()> {
            ec2::reboot_instances(&self.ec2, ids).await
        }
        async fn terminate_instances(&self, ids: &[String]) -> Result<()> {
            ec2::terminate_instances(&self.ec2, ids).await
        }
        async fn run_job_flow(&self, spec: &ClusterSpec) -> Result<String> {
            emr::run_job_flow(&self.emr, spec).await
        }
        async fn describe_cluster(&self, id: &str) -> Result<Option<ClusterInfo>> {
            emr::describe_cluster(&self.emr, id).await
        }
        async fn list_clusters(&self, states: &[ClusterState], next: Option<String>) -> Result<Page<ClusterInfo>> {
            emr::list_clusters(&self.emr, states, next).await
        }
        async fn add_steps(&self, cluster_id: &str, steps: &[mliy_core::model::emr::Step]) -> Result<Vec<String>> {
            emr::add_steps(&self.emr, cluster_id, steps).await
        }
        async fn list_steps(&self, cluster_id: &str) -> Result<Vec<StepInfo>> {
            emr::list_steps(&self.emr, cluster_id).await
        }
        async fn terminate_clusters(&self, ids: &[String]) -> Result<()> {
            emr::terminate_clusters(&self.emr, ids).await
        }
        async fn set_auto_termination(&self, cluster_id: &str, idle: Duration) -> Result<()> {
            emr::set_auto_termination(&self.emr, cluster_id, idle).await
        }
        async fn set_termination_protection(&self, cluster_id: &str, protected: bool) -> Result<()> {
            emr::set_termination_protection(&self.emr, cluster_id, protected).await
        }
        async fn list_instance_groups(&self, cluster_id: &str) -> Result<Vec<mliy_core::cloud::InstanceGroupInfo>> {
            emr::list_instance_groups(&self.emr, cluster_id).await
        }
        async fn resize_instance_group(&self, cluster_id: &str, group_id: &str, count: u32) -> Result<()> {
            emr::resize_instance_group(&self.emr, cluster_id, group_id, count).await
        }
        async fn send_command(&self, spec: &CommandSpec) -> Result<String> {
            ssm::send_command(&self.ssm, spec).await
        }
        async fn command_invocations(&self, command_id: &str) -> Result<Vec<CommandInvocation>> {
            ssm::command_invocations(&self.ssm, command_id).await
        }
        async fn spot_price(&self, instance_type: &str, availability_zone: Option<&str>) -> Result<Option<Decimal>> {
            ec2::spot_price(&self.ec2, instance_type, availability_zone).await
        }
    }
}
