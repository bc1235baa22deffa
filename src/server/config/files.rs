//! The two file formats configuration comes from: `.env` and the AWS
//! shared `credentials`/`config` INI files.
//!
//! Both follow the common rules of their format (python-dotenv and Docker
//! Compose for `.env`; the AWS SDKs' shared-file rules for INI). Whatever
//! is ignored is reported as a warning naming the line, never its value:
//! these files hold secrets.

use std::collections::HashMap;

/// Decodes a configuration file's bytes: a UTF-8 byte-order mark is
/// dropped; UTF-16 and bytes that are not UTF-8 are refused with the line
/// they are on, so a file is never ignored whole without a word.
pub fn decode(bytes: &[u8]) -> Result<&str, String> {
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        return Err("is UTF-16: save it as UTF-8".into());
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    std::str::from_utf8(bytes).map_err(|e| {
        let line = 1 + bytes[..e.valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        format!("line {line} is not UTF-8 (Latin-1?): save the file as UTF-8")
    })
}

/// Lines ending in `\n`, `\r\n` or a lone `\r` (old Mac files), numbered from 1.
fn numbered_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    text.split('\n')
        .flat_map(|line| {
            let line = line.strip_suffix('\r').unwrap_or(line);
            line.split('\r')
        })
        .enumerate()
        .map(|(i, line)| (i + 1, line))
}

/// Parses a `.env` file: `NAME=value` lines, `#` comments (whole lines, or
/// after whitespace in an unquoted value), optional `export` followed by a
/// space or tab, values in single quotes (literal) or double quotes (`\n`,
/// `\"`, `\\` escapes). Returns the variables and a warning per ignored line.
pub fn parse_dotenv(text: &str) -> (HashMap<String, String>, Vec<String>) {
    let mut vars = HashMap::new();
    let mut warnings = Vec::new();
    for (number, line) in numbered_lines(text) {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = match line.strip_prefix("export") {
            Some(rest) if rest.starts_with([' ', '\t']) => rest.trim_start(),
            _ => line,
        };
        let parsed = line
            .split_once('=')
            .ok_or("no '='")
            .and_then(|(name, value)| {
                let name = name.trim();
                if !is_variable_name(name) {
                    return Err("not a variable name before '='");
                }
                Ok((name, dotenv_value(value.trim_start())?))
            });
        match parsed {
            Ok((name, value)) => {
                vars.insert(name.to_owned(), value);
            }
            Err(why) => warnings.push(format!(".env line {number} ignored: {why}")),
        }
    }
    (vars, warnings)
}

fn is_variable_name(name: &str) -> bool {
    name.bytes().next().is_some_and(|b| !b.is_ascii_digit())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.'))
}

fn dotenv_value(raw: &str) -> Result<String, &'static str> {
    let quote = match raw.chars().next() {
        Some(q @ ('"' | '\'')) => q,
        _ => {
            // An unquoted value ends at a '#' that follows whitespace.
            let end = raw
                .char_indices()
                .find(|&(i, c)| c == '#' && raw[..i].ends_with([' ', '\t']))
                .map_or(raw.len(), |(i, _)| i);
            return Ok(raw[..end].trim_end().to_owned());
        }
    };
    let mut value = String::new();
    let mut chars = raw[1..].char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            c if c == quote => {
                let rest = raw[1 + i + 1..].trim_start();
                if rest.is_empty() || rest.starts_with('#') {
                    return Ok(value);
                }
                return Err("text after the closing quote");
            }
            '\\' if quote == '"' => match chars.next().map(|(_, c)| c) {
                Some('n') => value.push('\n'),
                Some('t') => value.push('\t'),
                Some(c @ ('"' | '\\')) => value.push(c),
                Some(c) => {
                    value.push('\\');
                    value.push(c);
                }
                None => break,
            },
            c => value.push(c),
        }
    }
    Err("the quote is not closed on this line (multi-line values are not supported)")
}

/// An INI file as `section -> key -> value`. Section names are kept as
/// written, inner whitespace collapsed (`default`, `profile dev`, `dev`).
#[derive(Debug, Default)]
pub struct Ini {
    /// The sections.
    pub sections: HashMap<String, HashMap<String, String>>,
    /// A line per ignored line, naming it but not its value.
    pub warnings: Vec<String>,
}

/// Parses the AWS shared-file dialect: `[section]`, `key = value`, comment
/// lines starting with `#` or `;`, and a `#`/`;` after whitespace ending a
/// value. Indented lines after `key =` are that key's sub-properties (as in
/// `s3 =\n  addressing_style = path`) and never top-level keys. Quotes are
/// part of the value, as in every AWS SDK; a quoted value gets a warning.
pub fn parse_ini(text: &str, file: &str) -> Ini {
    let mut ini = Ini::default();
    let mut section: Option<String> = None;
    let mut in_property = false;
    for (number, raw) in numbered_lines(text) {
        let line = strip_comment(raw).trim();
        if line.is_empty() {
            continue;
        }
        let mut warn = |why: &str| {
            ini.warnings
                .push(format!("{file} line {number} ignored: {why}"))
        };
        if raw.starts_with([' ', '\t']) && in_property {
            continue; // a sub-property or continuation of the key above
        }
        in_property = false;
        if let Some(name) = line.strip_prefix('[') {
            let Some(name) = name.strip_suffix(']') else {
                warn("a section header without ']'");
                section = None;
                continue;
            };
            let name = name.split_whitespace().collect::<Vec<_>>().join(" ");
            ini.sections.entry(name.clone()).or_default();
            section = Some(name);
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            warn("no '='");
            continue;
        };
        let Some(section) = &section else {
            warn("a key outside any [section]");
            continue;
        };
        let value = value.trim();
        if value.len() >= 2 && value.starts_with(['"', '\'']) && value.ends_with(['"', '\'']) {
            ini.warnings.push(format!(
                "{file} line {number}: the quotes are part of the value (AWS files do not strip them)"
            ));
        }
        in_property = true;
        ini.sections
            .entry(section.clone())
            .or_default()
            .insert(key.trim().to_ascii_lowercase(), value.to_owned());
    }
    ini
}

/// A line without its comment: `#`/`;` at the start, or after whitespace.
fn strip_comment(line: &str) -> &str {
    let trimmed = line.trim_start();
    if trimmed.starts_with(['#', ';']) {
        return "";
    }
    let end = line
        .char_indices()
        .find(|&(i, c)| matches!(c, '#' | ';') && line[..i].ends_with([' ', '\t']))
        .map_or(line.len(), |(i, _)| i);
    &line[..end]
}

/// A profile's section: `[name]` in the credentials file; `[profile name]`
/// (or `[default]`) in the config file.
pub fn profile<'a>(
    ini: &'a Ini,
    name: &str,
    config_file: bool,
) -> Option<&'a HashMap<String, String>> {
    if config_file && name != "default" {
        ini.sections.get(&format!("profile {name}"))
    } else if config_file {
        ini.sections
            .get("profile default")
            .or_else(|| ini.sections.get("default"))
    } else {
        ini.sections.get(name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotenv_handles_comments_quotes_and_export() {
        let (vars, warnings) =
            parse_dotenv("# comment\nA=1\nexport B = \"two words\"\nC='x=y'\n\nnot a line\n");
        assert_eq!(vars["A"], "1");
        assert_eq!(vars["B"], "two words");
        assert_eq!(vars["C"], "x=y");
        assert_eq!(vars.len(), 3);
        assert_eq!(warnings, [".env line 6 ignored: no '='"]);
    }

    #[test]
    fn dotenv_inline_comments_quotes_tabs_and_cr_lines() {
        let text = "X=v # c\rY=a#b\rexport\tZ=tab\rQ=\"say \\\"hi\\\"\" # c\r\
                    S='lit\\n'\rBAD=\"open\rTRAIL=\"a\" b\r1X=no\r";
        let (vars, warnings) = parse_dotenv(text);
        assert_eq!(vars["X"], "v", "comment after whitespace");
        assert_eq!(vars["Y"], "a#b", "no whitespace: part of the value");
        assert_eq!(vars["Z"], "tab", "export<TAB>");
        assert_eq!(vars["Q"], "say \"hi\"");
        assert_eq!(vars["S"], "lit\\n", "single quotes are literal");
        assert!(!vars.contains_key("BAD") && !vars.contains_key("TRAIL"));
        assert_eq!(warnings.len(), 3, "{warnings:?}");
        assert!(warnings[0].starts_with(".env line 6 ignored: the quote is not closed"));
        assert!(warnings[1].starts_with(".env line 7 ignored: text after"));
        assert!(warnings[2].starts_with(".env line 8 ignored: not a variable name"));
    }

    #[test]
    fn decode_strips_a_bom_and_names_what_it_refuses() {
        assert_eq!(decode(b"\xEF\xBB\xBFA=1\n").unwrap(), "A=1\n");
        assert!(decode(b"\xFF\xFEA\x00=\x001\x00")
            .unwrap_err()
            .contains("UTF-16"));
        let e = decode(b"A=1\nB=caf\xE9\n").unwrap_err();
        assert!(e.starts_with("line 2 is not UTF-8"), "{e}");
    }

    #[test]
    fn ini_sections_and_profiles() {
        let ini = parse_ini(
            "[default]\nregion = eu-west-1\n; c\n[profile dev]\nRegion=us-west-2\n",
            "config",
        );
        assert_eq!(
            profile(&ini, "default", true).unwrap()["region"],
            "eu-west-1"
        );
        assert_eq!(profile(&ini, "dev", true).unwrap()["region"], "us-west-2");
        assert!(profile(&ini, "dev", false).is_none());
        assert!(ini.warnings.is_empty());
    }

    #[test]
    fn ini_comments_sub_properties_quotes_and_cr_lines() {
        let text = "[ profile   dev ] # c\rregion = eu-west-1 ; note\r\
                    key = a;b\rs3 =\r  region = nested\r\tmore = x\r\
                    quoted = \"v\"\rjunk\r";
        let ini = parse_ini(text, "config");
        let dev = profile(&ini, "dev", true).unwrap();
        assert_eq!(dev["region"], "eu-west-1", "sub-property not top-level");
        assert_eq!(dev["key"], "a;b");
        assert_eq!(dev["quoted"], "\"v\"");
        assert!(!dev.contains_key("more"));
        assert_eq!(ini.warnings.len(), 2, "{:?}", ini.warnings);
        assert!(ini.warnings[0].starts_with("config line 7: the quotes"));
        assert_eq!(ini.warnings[1], "config line 8 ignored: no '='");
    }

    #[test]
    fn config_file_profiles_need_the_prefix() {
        let ini = parse_ini("[dev]\nregion = x\n", "config");
        assert!(profile(&ini, "dev", true).is_none());
    }
}
