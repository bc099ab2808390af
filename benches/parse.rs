//! Parser throughput: line splitting (bytes/s), decoding, and each record
//! parser (lines/s) on generated lines shaped like real SMS, ConfigMgr and
//! CMTrace logs.
//!
//! Run: `cargo bench --bench parse`.

use divan::Bencher;
use divan::counter::{BytesCount, ItemsCount};
use logwarden::event::Record;
use logwarden::parse::RecordParser;
use logwarden::parse::encoding::{Decoder, Encoding};
use logwarden::parse::lines::LineBuffer;
use logwarden::rule::Format;
use logwarden::time::TimeZoneSpec;

fn main() {
    divan::main();
}

const LINES: usize = 20_000;

const MESSAGES: [&str; 6] = [
    "Waiting for an available despooling thread",
    "Processing file: E:\\SMS\\inboxes\\sinv.box\\Eflc4iyv.sid",
    "STATMSG: ID=3807 SEV=W LEV=M SOURCE=\"SMS Server\" COMP=\"SMS_OFFER_STATUS_SUMMARIZER\" SYS=ECGJ01 SITE=OH1 PID=258 TID=66 NUMATTRS=0",
    "~Found ready instruction sni00000.sni",
    "SQL>>>>> Done.",
    "Warning: \\\\SERVER1\\CAP_MS1\\clicomp.box\\sinv.CFG version () out of sync with offer file version (2.00.1239.0000); skipping operations",
];

/// SMS 2.0 lines with a Windows zone name.
fn sms2_lines() -> Vec<String> {
    (0..LINES)
        .map(|i| {
            format!(
                "{}  $$<SMS_DESPOOLER><Fri Jul 14 {:02}:{:02}:{:02}.{:03} 2000 Eastern Daylight Time><thread={} (0x{:X})>",
                MESSAGES[i % MESSAGES.len()],
                8 + i / 3_600_000 % 12,
                i / 60_000 % 60,
                i / 1_000 % 60,
                i % 1_000,
                1_000 + i % 7,
                1_000 + i % 7,
            )
        })
        .collect()
}

/// ConfigMgr lines with a bias.
fn configmgr_lines() -> Vec<String> {
    (0..LINES)
        .map(|i| {
            format!(
                "{}  $$<SMS_DESPOOLER><01-15-2009 {:02}:{:02}:{:02}.{:03}+300><thread={} (0x{:X})>",
                MESSAGES[i % MESSAGES.len()],
                10 + i / 3_600_000 % 12,
                i / 60_000 % 60,
                i / 1_000 % 60,
                i % 1_000,
                4_844 + i % 7,
                4_844 + i % 7,
            )
        })
        .collect()
}

/// SMS 2.0 lines without a zone name: the source zone (`local`) applies.
fn sms2_local_lines() -> Vec<String> {
    sms2_lines()
        .into_iter()
        .map(|l| l.replace(" Eastern Daylight Time", ""))
        .collect()
}

fn cmtrace_lines() -> Vec<String> {
    (0..LINES)
        .map(|i| {
            format!(
                "<![LOG[{}]LOG]!><time=\"{:02}:{:02}:{:02}.{:03}0000+300\" date=\"01-15-2009\" component=\"SMS_DESPOOLER\" context=\"\" type=\"{}\" thread=\"{}\" file=\"despool.cpp:123\">",
                MESSAGES[i % MESSAGES.len()],
                10 + i / 3_600_000 % 12,
                i / 60_000 % 60,
                i / 1_000 % 60,
                i % 1_000,
                1 + i % 3,
                4_844 + i % 7,
            )
        })
        .collect()
}

fn joined(lines: &[String]) -> Vec<u8> {
    let mut out = Vec::new();
    for l in lines {
        out.extend_from_slice(l.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Splits `bytes` in 64 KiB reads, like the tailer; returns the lines seen.
fn split(encoding: Encoding, bytes: &[u8]) -> usize {
    let mut buf = LineBuffer::new(encoding, 0, 64 * 1024);
    let mut n = 0;
    for chunk in bytes.chunks(64 * 1024) {
        buf.extend(chunk);
        buf.drain_lines(|l| n += usize::from(!l.bytes.is_empty()));
    }
    n
}

#[divan::bench]
fn split_utf8(bencher: Bencher) {
    let bytes = joined(&configmgr_lines());
    bencher
        .counter(BytesCount::new(bytes.len()))
        .bench(|| split(Encoding::Utf8, divan::black_box(&bytes)));
}

#[divan::bench]
fn split_utf16le(bencher: Bencher) {
    let text = String::from_utf8(joined(&configmgr_lines())).unwrap_or_default();
    let bytes: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
    bencher
        .counter(BytesCount::new(bytes.len()))
        .bench(|| split(Encoding::Utf16Le, divan::black_box(&bytes)));
}

#[divan::bench(args = [Encoding::Utf8, Encoding::Utf16Le])]
fn decode(bencher: Bencher, encoding: Encoding) {
    let lines: Vec<Vec<u8>> = configmgr_lines()
        .iter()
        .map(|l| match encoding {
            Encoding::Utf8 => l.as_bytes().to_vec(),
            _ => l.encode_utf16().flat_map(u16::to_le_bytes).collect(),
        })
        .collect();
    let mut decoder = Decoder::new(encoding);
    bencher
        .counter(ItemsCount::new(lines.len()))
        .bench_local(|| {
            let mut n = 0;
            for l in &lines {
                n += decoder.decode(divan::black_box(l)).len();
            }
            n
        });
}

/// Pushes every line through a parser; returns a checksum of the records.
fn parse(format: Format, timezone: &TimeZoneSpec, lines: &[String]) -> u64 {
    let mut parser = RecordParser::new(format, timezone.clone());
    let mut sum = 0u64;
    let mut sink = |r: &Record<'_>| {
        sum = sum
            .wrapping_add(r.message.len() as u64)
            .wrapping_add(u64::from(r.thread.unwrap_or(0)))
            .wrapping_add(r.time.map_or(0, |t| t.as_unix_nanos() as u64));
    };
    for (i, l) in lines.iter().enumerate() {
        parser.push_line(l, i as u64 * 200, false, &mut sink);
    }
    parser.flush(&mut sink);
    sum
}

fn bench_parser(bencher: Bencher, format: Format, timezone: TimeZoneSpec, lines: Vec<String>) {
    bencher
        .counter(ItemsCount::new(lines.len()))
        .bench(|| parse(format, &timezone, divan::black_box(&lines)));
}

#[divan::bench]
fn sms_configmgr(bencher: Bencher) {
    bench_parser(bencher, Format::Sms, TimeZoneSpec::Local, configmgr_lines());
}

#[divan::bench]
fn sms_windows_zone(bencher: Bencher) {
    bench_parser(bencher, Format::Sms, TimeZoneSpec::Local, sms2_lines());
}

#[divan::bench]
fn sms_local_zone(bencher: Bencher) {
    bench_parser(
        bencher,
        Format::Sms,
        TimeZoneSpec::Local,
        sms2_local_lines(),
    );
}

#[divan::bench]
fn cmtrace(bencher: Bencher) {
    bench_parser(
        bencher,
        Format::Cmtrace,
        TimeZoneSpec::Local,
        cmtrace_lines(),
    );
}

#[divan::bench]
fn plain(bencher: Bencher) {
    bench_parser(
        bencher,
        Format::Plain,
        TimeZoneSpec::Local,
        configmgr_lines(),
    );
}

#[divan::bench]
fn auto_sms(bencher: Bencher) {
    bench_parser(
        bencher,
        Format::Auto,
        TimeZoneSpec::Local,
        configmgr_lines(),
    );
}

/// Bytes to records, the whole per-file chain on one thread.
#[divan::bench]
fn chain_configmgr(bencher: Bencher) {
    let lines = configmgr_lines();
    let bytes = joined(&lines);
    bencher.counter(ItemsCount::new(lines.len())).bench(|| {
        let mut buf = LineBuffer::new(Encoding::Utf8, 0, 64 * 1024);
        let mut decoder = Decoder::new(Encoding::Utf8);
        let mut parser = RecordParser::new(Format::Auto, TimeZoneSpec::Local);
        let mut n = 0u64;
        for chunk in divan::black_box(&bytes).chunks(64 * 1024) {
            buf.extend(chunk);
            buf.drain_lines(|l| {
                let text = decoder.decode(l.bytes);
                parser.push_line(text, l.offset, l.cut, &mut |r| {
                    n += u64::from(r.thread.unwrap_or(0));
                });
            });
        }
        n
    });
}
