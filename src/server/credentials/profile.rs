//! The chosen profile of `~/.aws/credentials` and `~/.aws/config`
//! (or `AWS_SHARED_CREDENTIALS_FILE` and `AWS_CONFIG_FILE`).
//!
//! A profile's keys come from one section only: the credentials file's if
//! it has any key, else the config file's. Halves of two identities are
//! never put together.

use super::{Error, Source, UNSUPPORTED};
use crate::server::config::files;
use crate::server::config::Vars;
use crate::sigv4::Credentials;
use std::collections::HashMap;
use std::path::PathBuf;

/// One profile, read from both files.
#[derive(Debug, Default)]
pub struct Profile {
    name: String,
    /// Named by `AWS_PROFILE` or `--profile`, not the implicit `default`.
    explicit: bool,
    credentials: HashMap<String, String>,
    config: HashMap<String, String>,
    credentials_file: String,
    config_file: String,
    /// Lines of the files that were ignored.
    pub warnings: Vec<String>,
}

impl Profile {
    /// Reads the profile `name` (`None`: `AWS_PROFILE`, else `default`).
    /// A file that is missing is empty; one that cannot be decoded is an error.
    pub fn read(vars: &Vars, name: Option<&str>) -> Result<Profile, Error> {
        let home = vars.get("HOME").map(PathBuf::from);
        let path = |var: &str, default: &str| {
            vars.get(var)
                .map(PathBuf::from)
                .or_else(|| home.as_ref().map(|h| h.join(".aws").join(default)))
        };
        let mut warnings = Vec::new();
        let mut read = |path: Option<PathBuf>| -> Result<(files::Ini, String), Error> {
            let Some(path) = path else {
                return Ok(Default::default());
            };
            let shown = path.display().to_string();
            let Ok(bytes) = std::fs::read(&path) else {
                return Ok((files::Ini::default(), shown));
            };
            let text = files::decode(&bytes).map_err(|e| Error(format!("{shown}: {e}")))?;
            let ini = files::parse_ini(text, &shown);
            warnings.extend(ini.warnings.iter().cloned());
            Ok((ini, shown))
        };
        let (credentials, credentials_file) =
            read(path("AWS_SHARED_CREDENTIALS_FILE", "credentials"))?;
        let (config, config_file) = read(path("AWS_CONFIG_FILE", "config"))?;
        let named_by = if name.is_some() {
            "--profile "
        } else {
            "AWS_PROFILE="
        };
        let (name, explicit) = match name.or_else(|| vars.get("AWS_PROFILE")) {
            Some(name) => (name.to_owned(), true),
            None => ("default".to_owned(), false),
        };
        let from_credentials = files::profile(&credentials, &name, false);
        let from_config = files::profile(&config, &name, true);
        if explicit && from_credentials.is_none() && from_config.is_none() {
            return Err(Error(format!(
                "{named_by}{name} but no such profile is in the AWS credentials or config file"
            )));
        }
        Ok(Profile {
            credentials: from_credentials.cloned().unwrap_or_default(),
            config: from_config.cloned().unwrap_or_default(),
            name,
            explicit,
            credentials_file,
            config_file,
            warnings,
        })
    }

    /// A setting of the profile, the credentials file first.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.credentials
            .get(key)
            .or_else(|| self.config.get(key))
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// The profile's credentials, if it has any.
    pub(super) fn source(&self) -> Result<Option<Source>, Error> {
        for (section, file) in [
            (&self.credentials, &self.credentials_file),
            (&self.config, &self.config_file),
        ] {
            let get = |key: &str| {
                section
                    .get(key)
                    .map(|v| v.as_str())
                    .filter(|v| !v.is_empty())
            };
            let name = &self.name;
            match (get("aws_access_key_id"), get("aws_secret_access_key")) {
                (Some(id), Some(secret)) => {
                    let mut credentials = Credentials::new(id, secret);
                    if let Some(token) = get("aws_session_token") {
                        credentials = credentials.with_session_token(token);
                    }
                    return Ok(Some(Source::Profile {
                        name: name.clone(),
                        credentials,
                    }));
                }
                (Some(_), None) | (None, Some(_)) => {
                    return Err(Error(format!(
                        "{file}: profile {name} has only one of aws_access_key_id and \
                         aws_secret_access_key; set both in the same profile"
                    )))
                }
                (None, None) => {}
            }
            if let Some(command) = get("credential_process") {
                return Ok(Some(Source::Process {
                    profile: name.clone(),
                    command: command.to_owned(),
                }));
            }
            if let Some(key) = UNSUPPORTED.iter().find(|k| get(k).is_some()) {
                return Err(Error(format!(
                    "{file}: profile {name} uses {key}, which presign does not support; use \
                     static keys, credential_process, or the container or instance credentials"
                )));
            }
        }
        if self.explicit {
            return Err(Error(format!(
                "profile {} has no credentials (aws_access_key_id and aws_secret_access_key, \
                 or credential_process)",
                self.name
            )));
        }
        Ok(None)
    }
}
