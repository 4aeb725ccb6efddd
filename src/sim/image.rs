//! The simulated images `mliy sim --bootstrap` runs on each instance: the example's own
//! (reports with its progress secret) or images that behave like MLiy's two install scripts
//! (FINRAOS/MLiy `scripts/ec2/MLiy/install_ec2_MLiy.sh` and its `config_ebs/` successor).
//!
//! An MLiy image finds `MANAGER_HOSTNAME` in its user data and its instance id in the
//! instance metadata, sends each step once as `GET
//! https://$MANAGER_HOSTNAME/ajax/progress/<instance id>/<message>(<n>)` (never retried, as
//! `curl -k` is not), calls `cfn-signal` (which retries) and reboots. The older script sends
//! `done(100)` from a startup job after the reboot. The newer one's startup job sits in
//! `/etc/rc.d/rc.local`, which Amazon Linux 2 does not run unless it is made executable, so
//! it never arrives; its first step, `mounting_ebs_filesystem(10)`, is sent before the
//! script sets its progress URL and never arrives either.

use mliy_core::error::{Error, Result};
use mliy_core::secret::Secret;
use mliy_core::sim::SimCloud;

/// Which image the simulated instances run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Bootstrap {
    /// The example's image: reports with its progress secret, 25% a step.
    #[default]
    Native,
    /// MLiy's older script: 10 … 80, the signal, 90, the reboot, `done(100)`.
    MliyClassic,
    /// MLiy's `config_ebs` script: 20, 30, 40, 60, the signal, 90, the reboot.
    MliyConfigEbs,
    /// A fleet of both MLiy images, alternating.
    Mliy,
}

impl std::str::FromStr for Bootstrap {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "native" => Ok(Bootstrap::Native),
            "mliy-classic" => Ok(Bootstrap::MliyClassic),
            "mliy-config-ebs" => Ok(Bootstrap::MliyConfigEbs),
            "mliy" => Ok(Bootstrap::Mliy),
            other => Err(Error::validation("bootstrap", other, "one of native, mliy-classic, mliy-config-ebs, mliy")),
        }
    }
}

impl Bootstrap {
    /// Whether the images are MLiy's (they need `progress_protocol: mliy`).
    pub fn is_mliy(self) -> bool {
        self != Bootstrap::Native
    }

    /// The MLiy image the `n`-th launch runs, if any.
    pub(super) fn image(self, n: usize) -> Option<MliyImage> {
        let steps = match self {
            Bootstrap::Native => return None,
            Bootstrap::MliyClassic => CLASSIC,
            Bootstrap::MliyConfigEbs => CONFIG_EBS,
            Bootstrap::Mliy if n.is_multiple_of(2) => CLASSIC,
            Bootstrap::Mliy => CONFIG_EBS,
        };
        Some(MliyImage { steps, next: 0, rebooting: 0, host: None, accepted: Vec::new(), refused: 0 })
    }
}

/// One thing an install script does.
#[derive(Debug, Clone, Copy)]
enum Step {
    /// `curl -k "…/<message>(<percent>)"`.
    Report(&'static str, u8),
    /// `cfn-signal --resource EC2Instance`.
    Signal,
    /// `reboot`: the instance is back after a few ticks.
    Reboot,
}

const CLASSIC: &[Step] = &[
    Step::Report("mounting_ebs_filesystem", 10),
    Step::Report("creating_analyst_user", 20),
    Step::Report("installing_system_software", 30),
    Step::Report("downloading_packages", 40),
    Step::Report("installing_base_packages", 50),
    Step::Report("configuring_base_packages", 60),
    Step::Report("installing_gpu_packages", 70),
    Step::Report("setting_analyst_environment", 80),
    Step::Signal,
    Step::Report("rebooting_MLiy", 90),
    Step::Reboot,
    Step::Report("done", 100),
];

const CONFIG_EBS: &[Step] = &[
    Step::Report("installing_system_software", 20),
    Step::Report("creating_analyst_user", 30),
    Step::Report("installing_base_packages", 40),
    Step::Report("configuring_base_packages", 60),
    Step::Signal,
    Step::Report("rebooting_MLiy", 90),
    Step::Reboot,
];

/// Ticks a reboot takes.
const REBOOT_TICKS: u8 = 3;
/// Tries `cfn-signal` makes.
const SIGNAL_TRIES: u32 = 5;

/// An MLiy image running on one instance.
#[derive(Debug)]
pub(super) struct MliyImage {
    steps: &'static [Step],
    next: usize,
    rebooting: u8,
    /// `MANAGER_HOSTNAME` as rendered into the user data (it holds the launch secret).
    host: Option<Secret>,
    /// Percentages the engine accepted, in the order sent.
    pub(super) accepted: Vec<u8>,
    /// Reports the engine refused.
    pub(super) refused: u64,
}

impl MliyImage {
    /// Whether the script has run to its end.
    pub(super) fn finished(&self) -> bool {
        self.next >= self.steps.len()
    }

    /// Runs the script's next step on the instance of the stack created with `token`, if that
    /// instance runs.
    pub(super) async fn step(&mut self, cloud: &SimCloud, engine: &mliy_core::engine::Engine, token: &str) {
        let Some(view) = cloud.bootstrap_view(token).filter(|v| v.running) else { return };
        if self.rebooting > 0 {
            self.rebooting -= 1;
            return;
        }
        let Some(step) = self.steps.get(self.next).copied() else { return };
        self.next += 1;
        match step {
            Step::Report(message, percent) => {
                if self.host.is_none() {
                    self.host = cloud.user_data_of(token).and_then(|u| manager_hostname(&u));
                }
                // `[[ ! -z "$mliymgr_url" ]] && curl …`: no host, no report.
                let Some(host) = &self.host else { return };
                let url = format!("https://{}/ajax/progress/{}/{message}({percent})", host.expose(), view.instance_id);
                match engine.report_mliy_path(path_of(&url)).await {
                    Ok(_) => self.accepted.push(percent),
                    Err(_) => self.refused += 1,
                }
            }
            Step::Signal => {
                let Some(logical) = view.awaited_signal else { return };
                for _ in 0..SIGNAL_TRIES {
                    if cloud.signal_resource(&view.stack_id, &logical).await.is_ok() {
                        break;
                    }
                }
            }
            Step::Reboot => self.rebooting = REBOOT_TICKS,
        }
    }
}

/// The path of an `https://host/path` URL.
fn path_of(url: &str) -> &str {
    let rest = url.strip_prefix("https://").unwrap_or(url);
    rest.find('/').map_or("/", |i| &rest[i..])
}

/// The value of `export MANAGER_HOSTNAME='…'` in base64 user data (MLiy's `userdata_MLiy.sh`).
fn manager_hostname(user_data_b64: &str) -> Option<Secret> {
    let text = super::scenario::user_data_text(user_data_b64)?;
    let line = text.lines().find_map(|l| l.trim().strip_prefix("export MANAGER_HOSTNAME="))?;
    let value = line.trim().trim_matches(|c| c == '\'' || c == '"');
    (!value.is_empty() && !value.contains("{{{")).then(|| Secret::new(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_manager_hostname_is_read_from_user_data() {
        use base64::Engine as _;
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let script = "#!/bin/bash\nexport MANAGER_HOSTNAME='portal.example/ajax/s/abc' \nexport X=1\n";
        assert_eq!(manager_hostname(&b64(script)).unwrap().expose(), "portal.example/ajax/s/abc");
        assert!(manager_hostname(&b64("export MANAGER_HOSTNAME='{{{MANAGER_HOSTNAME}}}'\n")).is_none());
        assert!(manager_hostname(&b64("#!/bin/bash\n")).is_none());
        assert!(manager_hostname("not base64!").is_none());
        assert_eq!(
            path_of("https://portal.example/ajax/s/abc/ajax/progress/i-1/x(10)"),
            "/ajax/s/abc/ajax/progress/i-1/x(10)"
        );
    }

    #[test]
    fn modes_parse_and_pick_their_scripts() {
        assert_eq!("mliy-config-ebs".parse::<Bootstrap>().unwrap(), Bootstrap::MliyConfigEbs);
        let e = "mliy-new".parse::<Bootstrap>().unwrap_err();
        assert!(matches!(e, Error::Validation(v) if v.field == "bootstrap" && v.value == "mliy-new"));
        let percents = |image: MliyImage| -> Vec<u8> {
            image.steps.iter().filter_map(|s| if let Step::Report(_, p) = s { Some(*p) } else { None }).collect()
        };
        assert_eq!(percents(Bootstrap::MliyClassic.image(0).unwrap()), [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);
        assert_eq!(percents(Bootstrap::Mliy.image(1).unwrap()), [20, 30, 40, 60, 90]);
        assert!(Bootstrap::Native.image(0).is_none());
    }
}
