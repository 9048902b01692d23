//! The district office's spreadsheets as CSV: bytes in UTF-8 (with or
//! without the BOM Excel writes) or GB18030 (what Excel and WPS save on a
//! Chinese Windows), detected; records read by the `csv` crate; each row with
//! the 1-based line it starts on, so validation errors can point at it. A
//! quote left open or text glued to a closing quote is an error naming its
//! line, never a silently merged row. It never interprets fields.

/// One data row with the line it starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub line: usize,
    pub fields: Vec<String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CsvError {
    #[error("line {0}: a quoted field is never closed")]
    Unclosed(usize),
    #[error("line {line}: unexpected character after a closing quote")]
    AfterQuote { line: usize },
    #[error("the file is neither UTF-8 nor GB18030 (first bad byte at offset {0})")]
    Encoding(usize),
    #[error("line {line}: {message}")]
    Read { line: usize, message: String },
}

/// The text of a spreadsheet file: UTF-8 when it is valid UTF-8, otherwise
/// GB18030 (which covers GBK and GB2312), refused when it is neither.
pub fn decode(bytes: &[u8]) -> Result<String, CsvError> {
    match std::str::from_utf8(bytes) {
        Ok(s) => Ok(s.strip_prefix('\u{feff}').unwrap_or(s).to_string()),
        Err(utf8) => {
            let (text, had_errors) = encoding_rs::GB18030.decode_without_bom_handling(bytes);
            if had_errors {
                return Err(CsvError::Encoding(utf8.valid_up_to()));
            }
            Ok(text.into_owned())
        }
    }
}

/// Checks the quoting the `csv` crate would forgive: every opened quote is
/// closed, and a closing quote ends its field.
fn check_quotes(text: &str) -> Result<(), CsvError> {
    let mut line = 1;
    let mut in_quotes = false;
    let mut opened_at = 0;
    let mut field_start = true;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (in_quotes, c) {
            (false, '"') if field_start => {
                in_quotes = true;
                opened_at = line;
            }
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
            }
            (true, '"') => {
                in_quotes = false;
                if !matches!(chars.peek(), None | Some(',') | Some('\n') | Some('\r')) {
                    return Err(CsvError::AfterQuote { line });
                }
            }
            (_, '\n') => {
                line += 1;
                field_start = !in_quotes;
                continue;
            }
            _ => {}
        }
        field_start = !in_quotes && c == ',';
    }
    if in_quotes {
        return Err(CsvError::Unclosed(opened_at));
    }
    Ok(())
}

/// The 1-based line of the first non-blank character at or after `byte`.
fn first_line_at(text: &str, byte: usize) -> usize {
    let head = text.get(..byte).unwrap_or(text);
    let mut line = 1 + head.bytes().filter(|&b| b == b'\n').count();
    for b in text.as_bytes().iter().skip(byte) {
        match b {
            b'\n' => line += 1,
            b'\r' => {}
            _ => break,
        }
    }
    line
}

/// Splits `text` into rows; blank lines are skipped.
pub fn parse(text: &str) -> Result<Vec<Row>, CsvError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    check_quotes(text)?;
    let mut reader = ::csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(text.as_bytes());
    let mut rows = Vec::new();
    let mut record = ::csv::StringRecord::new();
    loop {
        let line = reader.position().line() as usize;
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let fields: Vec<String> = record.iter().map(str::to_string).collect();
                if fields.len() == 1 && fields[0].trim().is_empty() {
                    continue;
                }
                // The reader's position may be a blank line it skipped before
                // the record: count the lines up to its first field instead.
                let line = record.position().map_or(line, |p| first_line_at(text, p.byte() as usize));
                rows.push(Row { line, fields });
            }
            Err(e) => {
                let line = e.position().map_or(line, |p| p.line() as usize);
                return Err(CsvError::Read { line, message: e.to_string() });
            }
        }
    }
    Ok(rows)
}

/// Rows with a header: fields looked up by column name (case-insensitive, trimmed).
pub struct Table {
    pub header: Vec<String>,
    pub rows: Vec<Row>,
}

impl Table {
    pub fn parse(text: &str) -> Result<Table, CsvError> {
        let mut rows = parse(text)?;
        if rows.is_empty() {
            return Ok(Table { header: vec![], rows });
        }
        let header = rows.remove(0).fields.into_iter().map(|h| h.trim().to_ascii_lowercase()).collect();
        Ok(Table { header, rows })
    }

    pub fn col(&self, name: &str) -> Option<usize> {
        self.header.iter().position(|h| h == name)
    }

    /// The trimmed field of `row` in column `name`, or "" when absent.
    pub fn get<'a>(&self, row: &'a Row, name: &str) -> &'a str {
        self.col(name).and_then(|i| row.fields.get(i)).map(|s| s.trim()).unwrap_or("")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bom_quoted_commas_and_crlf_are_read_like_excel_writes_them() {
        let rows = parse("\u{feff}id,name\r\nm1,\"张三, 老\"\r\nm2,\"say \"\"hi\"\"\"\r\n").unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].fields, vec!["id", "name"]);
        assert_eq!(rows[1].fields, vec!["m1", "张三, 老"]);
        assert_eq!(rows[2].fields, vec!["m2", "say \"hi\""]);
    }

    #[test]
    fn rows_keep_the_line_they_start_on_across_blank_lines_and_quoted_newlines() {
        let rows = parse("a,b\n\n\"x\ny\",1\nz,2").unwrap();
        assert_eq!(rows.iter().map(|r| r.line).collect::<Vec<_>>(), vec![1, 3, 5]);
        assert_eq!(rows[1].fields[0], "x\ny");
    }

    #[test]
    fn an_unclosed_quote_is_an_error_naming_its_line() {
        assert_eq!(parse("a\n\"open,1\n"), Err(CsvError::Unclosed(2)));
        assert_eq!(parse("\"a\"b,1"), Err(CsvError::AfterQuote { line: 1 }));
    }

    #[test]
    fn a_gb18030_sheet_saved_by_excel_reads_as_the_same_text_as_utf8() {
        let text = "编号,姓名\nm1,欧阳喆珺\n";
        let (gb, _, unmappable) = encoding_rs::GB18030.encode(text);
        assert!(!unmappable);
        assert!(std::str::from_utf8(&gb).is_err(), "the sample must really be GB18030");
        assert_eq!(decode(&gb).unwrap(), text);
        assert_eq!(decode(format!("\u{feff}{text}").as_bytes()).unwrap(), text);
    }

    #[test]
    fn bytes_that_are_neither_utf8_nor_gb18030_are_refused() {
        assert!(matches!(decode(&[b'a', 0xff, 0xff, 0xff]), Err(CsvError::Encoding(1))));
    }
}
