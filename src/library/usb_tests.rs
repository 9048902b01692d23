//! Unit tests for USB import/export on real folders and a real SQLite file.

use super::*;
use crate::clock::TestClock;
use crate::model::{Course, CourseFile};
use crate::store::migrations::migrate;

struct Device {
    _dir: tempfile::TempDir,
    cfg: LibraryConfig,
    conn: Connection,
}

fn device() -> Device {
    let dir = tempfile::tempdir().unwrap();
    let cfg = LibraryConfig { cache_dir: dir.path().join("cache"), min_free_bytes: 0, ..Default::default() };
    let mut conn = Connection::open(dir.path().join("db.sqlite")).unwrap();
    migrate(&mut conn).unwrap();
    Device { _dir: dir, cfg, conn }
}

fn course(id: &str, data: &[u8]) -> Course {
    let (sha256, size) = disk::hash_reader(data).unwrap();
    Course {
        id: id.into(),
        title: format!("课程 {id}"),
        title_en: String::new(),
        category: String::new(),
        required: false,
        duration_s: 60,
        credit_minutes: 45,
        poster: None,
        files: vec![CourseFile { url: format!("http://hub/v/{id}.mp4"), size, sha256 }],
    }
}

/// A hand-made stick: catalogue plus files named after the URL at the top level.
fn stick(version: u64, items: &[(&str, &[u8])]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let cat = Catalog { version, courses: items.iter().map(|(id, d)| course(id, d)).collect(), schedule: None };
    std::fs::write(dir.path().join("catalog.json"), cat.to_json()).unwrap();
    for (id, data) in items {
        std::fs::write(dir.path().join(format!("{id}.mp4")), data).unwrap();
    }
    dir
}

#[test]
fn an_import_applies_the_catalogue_and_caches_files_that_match_their_hash() {
    let d = device();
    let s = stick(2, &[("c1", b"video one"), ("c2", b"video two")]);
    let rep = import(&d.conn, &d.cfg, &TestClock::at(1000), s.path(), None, &mut super::super::progress::NoProgress).unwrap();
    assert_eq!(rep.catalog_applied, Some(2));
    assert_eq!(rep.imported.len(), 2);
    let files = cache::playable(&d.conn, &d.cfg.cache_dir, "c1").unwrap().unwrap();
    assert_eq!(std::fs::read(&files[0]).unwrap(), b"video one");
    assert!(matches!(&rep.events[0], LibraryEvent::Verified { source: "import", .. }));
}

#[test]
fn a_file_on_the_stick_with_the_wrong_content_is_not_cached() {
    let d = device();
    let s = stick(1, &[("c1", b"video one")]);
    std::fs::write(s.path().join("c1.mp4"), b"video 1ne").unwrap();
    let rep = import(&d.conn, &d.cfg, &TestClock::at(1000), s.path(), None, &mut super::super::progress::NoProgress).unwrap();
    assert_eq!(rep.bad_on_stick.len(), 1);
    assert!(rep.bad_on_stick[0].1.contains("does not match"));
    assert!(cache::playable(&d.conn, &d.cfg.cache_dir, "c1").unwrap().is_none());
    let left: Vec<_> = std::fs::read_dir(&d.cfg.cache_dir).unwrap().collect();
    assert!(left.is_empty(), "nothing may be left in the cache: {left:?}");
}

#[test]
fn an_older_stick_catalogue_does_not_replace_the_devices() {
    let d = device();
    let newer = Catalog { version: 9, courses: vec![course("c1", b"video one")], schedule: None };
    catalog::replace(&d.conn, &newer, None).unwrap();
    let s = stick(3, &[("c1", b"video one"), ("old", b"retired course")]);
    let rep = import(&d.conn, &d.cfg, &TestClock::at(1000), s.path(), None, &mut super::super::progress::NoProgress).unwrap();
    assert_eq!(rep.catalog_applied, None);
    assert_eq!(catalog::current_version(&d.conn).unwrap(), Some(9));
    assert_eq!(rep.imported.len(), 1, "only files the device's catalogue wants");
}

#[test]
fn a_folder_without_a_catalogue_is_refused() {
    let d = device();
    let empty = tempfile::tempdir().unwrap();
    let err = import(&d.conn, &d.cfg, &TestClock::at(0), empty.path(), None, &mut super::super::progress::NoProgress).unwrap_err();
    assert!(matches!(err, UsbError::NoCatalog(_)));
}

#[test]
fn an_export_can_be_imported_on_the_next_device() {
    let a = device();
    let s = stick(4, &[("c1", b"video one"), ("c2", b"video two")]);
    import(&a.conn, &a.cfg, &TestClock::at(1000), s.path(), None, &mut super::super::progress::NoProgress).unwrap();
    let out = tempfile::tempdir().unwrap();
    let mut reports = 0;
    let rep = export(&a.conn, &a.cfg, out.path(), None, &mut |_: &Progress| reports += 1).unwrap();
    assert_eq!(rep.exported.len(), 2);
    assert!(reports >= 3);
    assert!(out.path().join(CATALOG_JSON).is_file());
    let again = export(&a.conn, &a.cfg, out.path(), None, &mut super::super::progress::NoProgress).unwrap();
    assert_eq!((again.exported.len(), again.already_there), (0, 2));

    let b = device();
    let rep = import(&b.conn, &b.cfg, &TestClock::at(2000), out.path(), None, &mut super::super::progress::NoProgress).unwrap();
    assert_eq!((rep.catalog_applied, rep.imported.len()), (Some(4), 2));
}

#[test]
fn an_export_that_finds_a_rotten_cache_file_takes_it_out_of_service() {
    let a = device();
    let s = stick(1, &[("c1", b"video one")]);
    import(&a.conn, &a.cfg, &TestClock::at(1000), s.path(), None, &mut super::super::progress::NoProgress).unwrap();
    let path = cache::playable(&a.conn, &a.cfg.cache_dir, "c1").unwrap().unwrap().remove(0);
    std::fs::write(&path, b"video 0ne").unwrap();
    let out = tempfile::tempdir().unwrap();
    let rep = export(&a.conn, &a.cfg, out.path(), None, &mut super::super::progress::NoProgress).unwrap();
    assert_eq!(rep.corrupt.len(), 1);
    assert!(cache::playable(&a.conn, &a.cfg.cache_dir, "c1").unwrap().is_none());
    assert_eq!(std::fs::read_dir(out.path().join(FILES_DIR)).unwrap().count(), 0);
}
