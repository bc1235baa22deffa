//! The two file formats configuration comes from: `.env` and the AWS
//! shared `credentials`/`config` INI files.

use std::collections::HashMap;

/// Parses a `.env` file: `NAME=value` lines, `#` comments, optional
/// `export `, values optionally in single or double quotes.
pub fn parse_dotenv(text: &str) -> HashMap<String, String> {
    let mut vars = HashMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let Some((name, value)) = line.split_once('=') else {
            continue;
        };
        let value = value.trim();
        let value = ['"', '\'']
            .iter()
            .find_map(|&q| value.strip_prefix(q)?.strip_suffix(q))
            .unwrap_or(value);
        vars.insert(name.trim().to_owned(), value.to_owned());
    }
    vars
}

/// An INI file as `section -> key -> value`. Section names are kept as
/// written (`default`, `profile dev`, `dev`).
pub type Ini = HashMap<String, HashMap<String, String>>;

/// Parses the AWS INI dialect: `[section]`, `key = value`, `#`/`;` comments.
pub fn parse_ini(text: &str) -> Ini {
    let mut ini = Ini::new();
    let mut section: Option<String> = None;
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with(['#', ';']) {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            let name = name.trim().to_owned();
            ini.entry(name.clone()).or_default();
            section = Some(name);
        } else if let (Some(section), Some((key, value))) = (&section, line.split_once('=')) {
            ini.entry(section.clone())
                .or_default()
                .insert(key.trim().to_ascii_lowercase(), value.trim().to_owned());
        }
    }
    ini
}

/// A profile's section: `[name]` in the credentials file; `[profile name]`
/// (or `[default]`) in the config file.
pub fn profile<'a>(
    ini: &'a Ini,
    name: &str,
    config_file: bool,
) -> Option<&'a HashMap<String, String>> {
    if config_file && name != "default" {
        ini.get(&format!("profile {name}"))
            .or_else(|| ini.get(name))
    } else {
        ini.get(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotenv_handles_comments_quotes_and_export() {
        let vars =
            parse_dotenv("# comment\nA=1\nexport B = \"two words\"\nC='x=y'\n\nnot a line\n");
        assert_eq!(vars["A"], "1");
        assert_eq!(vars["B"], "two words");
        assert_eq!(vars["C"], "x=y");
        assert_eq!(vars.len(), 3);
    }

    #[test]
    fn ini_sections_and_profiles() {
        let ini =
            parse_ini("[default]\nregion = eu-west-1\n; c\n[profile dev]\nRegion=us-west-2\n");
        assert_eq!(
            profile(&ini, "default", true).unwrap()["region"],
            "eu-west-1"
        );
        assert_eq!(profile(&ini, "dev", true).unwrap()["region"], "us-west-2");
        assert!(profile(&ini, "dev", false).is_none());
    }
}
