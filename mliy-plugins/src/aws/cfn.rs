//! CloudFormation: stacks.

use super::errors::{Outcome, classify, map, outcome};
use aws_sdk_cloudformation::Client;
use aws_sdk_cloudformation::types::{OnFailure, Parameter, Stack, Tag};
use mliy_core::cloud::{Page, StackEvent, StackInfo, StackResource, StackStatus};
use mliy_core::model::{LAUNCH_ID_TAG, StackSpec, Tag as MliyTag};
use mliy_core::{Error, Result};

pub(crate) async fn create_stack(client: &Client, spec: &StackSpec) -> Result<String> {
    let parameters = spec
        .parameters
        .iter()
        .map(|p| Parameter::builder().parameter_key(&p.key).parameter_value(&*p.value).build())
        .collect();
    let tags = spec.tags.iter().map(|t| Tag::builder().key(&t.key).value(&t.value).build()).collect();
    let sent = client
        .create_stack()
        .stack_name(&spec.name)
        .template_body(&*spec.template_body)
        .set_parameters(Some(parameters))
        .set_tags(Some(tags))
        .client_request_token(&spec.client_request_token)
        // Keep a failed stack (rolled back) so its reason can be read; the engine deletes it.
        .on_failure(OnFailure::Rollback)
        .send()
        .await;
    match sent {
        Ok(out) => out.stack_id.ok_or_else(|| Error::Unavailable("CreateStack: answer without a stack id".into())),
        Err(err) => match outcome("CreateStack", err) {
            // A stack of this name exists: ours if it carries this launch's id (a retried call
            // whose first answer was lost; emulators that ignore ClientRequestToken land here).
            Outcome::Service(f) if f.code() == "AlreadyExistsException" => {
                match describe_stack(client, &spec.name).await? {
                    Some(info) if tag(&info.tags, LAUNCH_ID_TAG) == Some(spec.client_request_token.as_str()) => {
                        Ok(info.id)
                    }
                    _ => Err(classify("CreateStack", &f)),
                }
            }
            Outcome::Service(f) => Err(classify("CreateStack", &f)),
            Outcome::Other(e) => Err(e),
        },
    }
}

fn tag<'a>(tags: &'a [MliyTag], key: &str) -> Option<&'a str> {
    tags.iter().find(|t| t.key == key).map(|t| t.value.as_str())
}

fn info(stack: Stack) -> StackInfo {
    StackInfo {
        id: stack.stack_id.unwrap_or_default(),
        name: stack.stack_name.unwrap_or_default(),
        status: stack.stack_status.map_or(StackStatus::Other(String::new()), |s| StackStatus::parse(s.as_str())),
        reason: stack.stack_status_reason,
        outputs: stack
            .outputs
            .unwrap_or_default()
            .into_iter()
            .map(|o| (o.output_key.unwrap_or_default(), o.output_value.unwrap_or_default()))
            .collect(),
        tags: stack
            .tags
            .unwrap_or_default()
            .into_iter()
            .map(|t| MliyTag::new(t.key.unwrap_or_default(), t.value.unwrap_or_default()))
            .collect(),
    }
}

/// CloudFormation answers an unknown stack with a ValidationError "… does not exist".
fn is_missing(f: &super::errors::Failure) -> bool {
    f.code() == "ValidationError" && f.message().contains("does not exist")
}

pub(crate) async fn describe_stack(client: &Client, name_or_id: &str) -> Result<Option<StackInfo>> {
    match client.describe_stacks().stack_name(name_or_id).send().await {
        Ok(out) => Ok(out.stacks.unwrap_or_default().into_iter().next().map(info)),
        Err(err) => match outcome("DescribeStacks", err) {
            Outcome::Service(f) if is_missing(&f) => Ok(None),
            Outcome::Service(f) => Err(classify("DescribeStacks", &f)),
            Outcome::Other(e) => Err(e),
        },
    }
}

/// DescribeStacks without a name: every live stack, with its tags (ListStacks has none).
pub(crate) async fn list_stacks(client: &Client, next: Option<String>) -> Result<Page<StackInfo>> {
    let out = client.describe_stacks().set_next_token(next).send().await.map_err(|e| map("DescribeStacks", e))?;
    let items = out
        .stacks
        .unwrap_or_default()
        .into_iter()
        .map(info)
        .filter(|s| s.status != StackStatus::DeleteComplete)
        .collect();
    Ok(Page { items, next: out.next_token })
}

pub(crate) async fn stack_resources(client: &Client, stack_id: &str) -> Result<Vec<StackResource>> {
    let out = client
        .describe_stack_resources()
        .stack_name(stack_id)
        .send()
        .await
        .map_err(|e| map("DescribeStackResources", e))?;
    Ok(out
        .stack_resources
        .unwrap_or_default()
        .into_iter()
        .map(|r| StackResource {
            logical_id: r.logical_resource_id.unwrap_or_default(),
            resource_type: r.resource_type.unwrap_or_default(),
            physical_id: r.physical_resource_id.filter(|p| !p.is_empty()),
            status: r.resource_status.map(|s| s.as_str().to_string()).unwrap_or_default(),
        })
        .collect())
}

/// The newest page of DescribeStackEvents (up to 100, newest first): enough for the
/// failure of a stack being created.
pub(crate) async fn stack_events(client: &Client, stack_id: &str) -> Result<Vec<StackEvent>> {
    let out =
        client.describe_stack_events().stack_name(stack_id).send().await.map_err(|e| map("DescribeStackEvents", e))?;
    Ok(out
        .stack_events
        .unwrap_or_default()
        .into_iter()
        .map(|e| StackEvent {
            logical_id: e.logical_resource_id.unwrap_or_default(),
            resource_type: e.resource_type.unwrap_or_default(),
            status: e.resource_status.map(|s| s.as_str().to_string()).unwrap_or_default(),
            reason: e.resource_status_reason,
        })
        .collect())
}

pub(crate) async fn delete_stack(client: &Client, stack_id: &str) -> Result<()> {
    client.delete_stack().stack_name(stack_id).send().await.map_err(|e| map("DeleteStack", e))?;
    Ok(())
}
