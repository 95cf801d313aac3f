//! gensort 1.5's records, byte for byte: the 128-bit generator, the binary, ASCII and skewed
//! record layouts, and the checksum valsort prints.
//!
//! Record `n` is built from `R(n) = f^(n+1)(0)` and the nine numbers after it, where
//! `f(x) = A·x + C mod 2^128`. Any record can be generated on its own: `f^n` is found by
//! composing the squares `f^(2^i)` (squaring an affine map is again an affine map), which is
//! what lets `tarn sort gen` write any range of records on any thread.

/// Bytes per record.
pub const RECORD_LEN: usize = 100;
/// Bytes of the key at the start of each record, compared as unsigned bytes.
pub const KEY_LEN: usize = 10;

/// The generator's multiplier and increment (gensort's `rand16.c`).
const A: u128 = 0x2360ed051fc65da44385df649fccf645;
const C: u128 = 0x4a696d47726179524950202020202001;

/// What each 10-byte part of a binary record is XORed with before it is written, so that the
/// ten parts of a record do not repeat the ten keys that follow it (gensort's `gen_rec`).
const PART_XOR: [u128; 10] = [
    0,
    0xF0E8E4E2E1D8D4D2_D1CC000000000000,
    0xCAC9C6C5C3B8B4B2_B1AC000000000000,
    0xAAA9A6A5A39C9A99_9695000000000000,
    0x938E8D8B87787472_716C000000000000,
    0x6A696665635C5A59_5655000000000000,
    0x534E4D4B473C3A39_3635000000000000,
    0x332E2D2B271E1D1B_170F000000000000,
    0xC8C4C2C198949291_8CE0000000000000,
    0x170F332E2D2B271E_1D1B000000000000,
];

/// The layout of generated records (gensort's `-a` and `-s`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecordFormat {
    /// Printable records (keys of 10 characters from ' ' to '~', the record number in hex,
    /// ending in CR LF), as PennySort requires.
    pub ascii: bool,
    /// Keys whose leading bits come from a table chosen by the record number, so that many
    /// keys share long prefixes (the Daytona skewed-data test).
    pub skew: bool,
}

/// An affine map `x → a·x + c (mod 2^128)`.
#[derive(Clone, Copy)]
struct Affine {
    a: u128,
    c: u128,
}

impl Affine {
    fn apply(self, x: u128) -> u128 {
        self.a.wrapping_mul(x).wrapping_add(self.c)
    }

    /// The map applied twice.
    fn squared(self) -> Affine {
        Affine {
            a: self.a.wrapping_mul(self.a),
            c: self.a.wrapping_mul(self.c).wrapping_add(self.c),
        }
    }
}

const STEP: Affine = Affine { a: A, c: C };

/// `R(n)`, the random number record `n` starts from.
fn random(n: u64) -> u128 {
    let (mut x, mut power, mut steps) = (0u128, STEP, u128::from(n) + 1);
    while steps != 0 {
        if steps & 1 == 1 {
            x = power.apply(x);
        }
        power = power.squared();
        steps >>= 1;
    }
    x
}

/// The top 10 bytes of a random number, as gensort lays them out.
fn top_ten(x: u128) -> [u8; 10] {
    let bytes = x.to_be_bytes();
    bytes[..10].try_into().expect("ten bytes")
}

/// Which row of the skew tables record `n` uses: about log2(n) + 1. gensort tests the top four
/// bits rather than the top one when it caps the index at 64, and so does this.
fn skew_index(n: u64) -> usize {
    if n == 0 {
        0
    } else if n & 0xF000_0000_0000_0000 != 0 {
        64
    } else {
        (u64::BITS - n.leading_zeros()) as usize
    }
}

/// Fills `out` (a whole number of records) with records `first`, `first + 1`, ….
pub fn generate(format: RecordFormat, first: u64, out: &mut [u8]) {
    assert_eq!(out.len() % RECORD_LEN, 0, "a whole number of records");
    let count = out.len() / RECORD_LEN;
    // Record i reads R(first + i) ..= R(first + i + 9) in binary and only R(first + i) in ASCII.
    let needed = if format.ascii { count } else { count + 9 };
    let mut randoms = Vec::with_capacity(needed);
    let mut x = random(first);
    for _ in 0..needed {
        randoms.push(x);
        x = STEP.apply(x);
    }
    for (i, record) in out.chunks_exact_mut(RECORD_LEN).enumerate() {
        let n = first + i as u64;
        if format.ascii {
            ascii_record(record, n, randoms[i]);
        } else {
            binary_record(record, &randoms[i..i + 10]);
        }
        if format.skew {
            skew(record, format.ascii, n, randoms[i]);
        }
    }
}

fn binary_record(record: &mut [u8], randoms: &[u128]) {
    for (k, (part, &r)) in record.chunks_exact_mut(10).zip(randoms).enumerate() {
        part.copy_from_slice(&top_ten(r ^ PART_XOR[k]));
    }
}

fn hex_digit(nibble: u64) -> u8 {
    b"0123456789ABCDEF"[(nibble & 0xF) as usize]
}

fn ascii_record(record: &mut [u8], n: u64, r: u128) {
    let (hi, lo) = ((r >> 64) as u64, r as u64);
    let mut digits = hi;
    for byte in &mut record[..8] {
        *byte = b' ' + (digits % 95) as u8;
        digits /= 95;
    }
    let mut digits = lo;
    for byte in &mut record[8..10] {
        *byte = b' ' + (digits % 95) as u8;
        digits /= 95;
    }
    record[10..12].copy_from_slice(b"  ");
    // The record number as 32 hex digits; numbers here fit 64 bits, so the first 16 are zeros.
    record[12..28].fill(b'0');
    for (i, byte) in record[28..44].iter_mut().enumerate() {
        *byte = hex_digit(n >> (60 - 4 * i));
    }
    record[44..46].copy_from_slice(b"  ");
    for (i, group) in record[46..98].chunks_exact_mut(4).enumerate() {
        group.fill(hex_digit(lo >> (48 - 4 * i)));
    }
    record[98..100].copy_from_slice(b"\r\n");
}

/// Replaces the key's leading bits (binary) or bytes (ASCII) with those of the record's row in
/// the skew table; a quarter of records keep their key.
fn skew(record: &mut [u8], ascii: bool, n: u64, r: u128) {
    let chooser = ((r as u64) >> 32) as usize;
    if ascii {
        let count = chooser & 0x7;
        let count = if count > SKEW_BYTES { 0 } else { count };
        record[..count].copy_from_slice(&SKEW_ASCII[skew_index(n)][..count]);
    } else {
        let bits = chooser & 0x3F;
        let bits = if bits > 8 * SKEW_BYTES { 0 } else { bits };
        let table = &SKEW_BINARY[skew_index(n)];
        let whole = bits / 8;
        record[..whole].copy_from_slice(&table[..whole]);
        let rest = bits % 8;
        if rest > 0 {
            let keep = 0xFFu8 >> rest;
            record[whole] = (table[whole] & !keep) | (record[whole] & keep);
        }
    }
}

/// The sum of the zlib CRC-32 of every record, as a 128-bit number (valsort's checksum).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Checksum(pub u128);

impl Checksum {
    /// The checksum of the whole records in `records`.
    pub fn of(records: &[u8]) -> Checksum {
        Checksum(
            records
                .chunks_exact(RECORD_LEN)
                .map(|r| u128::from(crc32fast::hash(r)))
                .fold(0u128, u128::wrapping_add),
        )
    }
}

impl std::ops::Add for Checksum {
    type Output = Checksum;

    /// Sums wrap at 2^128, as valsort's 128-bit sum does.
    fn add(self, other: Checksum) -> Checksum {
        Checksum(self.0.wrapping_add(other.0))
    }
}

impl std::ops::AddAssign for Checksum {
    fn add_assign(&mut self, other: Checksum) {
        *self = *self + other;
    }
}

impl std::fmt::Display for Checksum {
    /// Lowercase hex without leading zeros, as valsort prints it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:x}", self.0)
    }
}

/// Bytes of a key the skew tables can replace.
const SKEW_BYTES: usize = 6;

// The skew tables of gensort 1.5, one row per skew index.
const SKEW_BINARY: [[u8; 6]; 129] = [
    [0x4a, 0x69, 0x6d, 0x47, 0x72, 0x61],
    [0x95, 0xe0, 0xe4, 0x82, 0x62, 0xb3],
    [0x45, 0x97, 0x93, 0x53, 0xdb, 0xed],
    [0x88, 0x2a, 0x02, 0xc3, 0x15, 0x36],
    [0x5c, 0x90, 0xab, 0x38, 0xae, 0x52],
    [0x72, 0xdc, 0x0c, 0xa5, 0x1e, 0x33],
    [0x10, 0x43, 0x1a, 0xf6, 0xa0, 0xd8],
    [0x5e, 0xfc, 0x4a, 0xbf, 0xac, 0xa2],
    [0x44, 0xf7, 0x8c, 0x8b, 0x40, 0xbf],
    [0x84, 0xc0, 0x99, 0x2f, 0x3b, 0x94],
    [0xb3, 0xe9, 0x68, 0x9d, 0xe1, 0x6b],
    [0xf8, 0xf6, 0x42, 0x63, 0xfd, 0x0b],
    [0xda, 0x7a, 0x45, 0xa1, 0x82, 0xde],
    [0x9b, 0x6b, 0x48, 0x25, 0xe2, 0x51],
    [0xdc, 0x68, 0x2a, 0x00, 0x64, 0x7e],
    [0xf2, 0x5b, 0xd1, 0x54, 0x39, 0xd1],
    [0xf2, 0xfa, 0x42, 0xed, 0x18, 0x72],
    [0x6a, 0x59, 0x45, 0x1b, 0xe8, 0xd0],
    [0x27, 0x29, 0xb9, 0x77, 0x14, 0x71],
    [0x87, 0x9b, 0x2f, 0xb7, 0xbb, 0x35],
    [0x68, 0xd0, 0xcc, 0x3c, 0x19, 0x99],
    [0x27, 0xd8, 0x08, 0x79, 0xd7, 0x9e],
    [0xb0, 0x79, 0x50, 0x11, 0xb7, 0x82],
    [0x46, 0x4f, 0xb8, 0x4a, 0xb8, 0x48],
    [0x21, 0xf0, 0x3e, 0xe8, 0xac, 0x41],
    [0xe7, 0x96, 0x1c, 0x0d, 0x82, 0x7f],
    [0x84, 0xd9, 0x04, 0x45, 0x7a, 0x61],
    [0x53, 0x59, 0xd3, 0x5d, 0xa8, 0x84],
    [0x4e, 0x38, 0x54, 0x66, 0x52, 0x5c],
    [0x87, 0x0f, 0xa6, 0x45, 0x90, 0x11],
    [0xff, 0x00, 0x46, 0x3a, 0xdf, 0xc8],
    [0x89, 0xca, 0x67, 0xc2, 0x9c, 0x93],
    [0x75, 0x50, 0x90, 0xc0, 0x17, 0x7d],
    [0xeb, 0x4d, 0x81, 0xa5, 0xc9, 0xea],
    [0x8a, 0x85, 0x68, 0xb3, 0x08, 0x6f],
    [0x5d, 0xa6, 0x9a, 0x3d, 0x86, 0x67],
    [0x6a, 0x97, 0x43, 0x59, 0xea, 0xab],
    [0x63, 0xb6, 0x04, 0x4b, 0x8e, 0x78],
    [0x33, 0x41, 0x49, 0x12, 0xcb, 0x67],
    [0x22, 0x6d, 0xf2, 0xb7, 0x9c, 0x9b],
    [0x1e, 0x58, 0x39, 0x6c, 0x59, 0x9a],
    [0x4d, 0x67, 0x60, 0x91, 0xdc, 0xfe],
    [0xc9, 0x8f, 0x25, 0x9b, 0x15, 0x0d],
    [0xa8, 0x27, 0xdc, 0x9a, 0xff, 0x7e],
    [0x06, 0x96, 0xc9, 0xa1, 0xba, 0x3b],
    [0x6d, 0x16, 0xe3, 0x38, 0xd7, 0x77],
    [0xac, 0x35, 0xa4, 0x3b, 0xa6, 0x62],
    [0x7e, 0xe1, 0xe4, 0x00, 0x71, 0x63],
    [0xa1, 0x6b, 0x6f, 0xa9, 0xf1, 0xea],
    [0x2c, 0xb7, 0xa1, 0xbb, 0x93, 0x62],
    [0x2f, 0x4b, 0x08, 0x26, 0x7c, 0xe7],
    [0x86, 0xd1, 0x92, 0xc5, 0x41, 0x84],
    [0xf6, 0xe4, 0x14, 0x3f, 0xde, 0xaa],
    [0x45, 0x83, 0x69, 0xe8, 0x3c, 0xb9],
    [0x6c, 0x15, 0xf7, 0x0f, 0x81, 0x76],
    [0xc0, 0xb4, 0x87, 0x02, 0x6b, 0x7f],
    [0xae, 0x90, 0x31, 0xf8, 0x7d, 0x14],
    [0x6b, 0x25, 0xdc, 0x59, 0xe0, 0x9e],
    [0x88, 0x38, 0x23, 0x62, 0x42, 0x4b],
    [0xaf, 0xb9, 0x6f, 0x95, 0xd3, 0x2b],
    [0xc1, 0xd4, 0xfc, 0xf5, 0x77, 0xdb],
    [0xc6, 0x8d, 0x66, 0xd1, 0x84, 0x53],
    [0x74, 0xfe, 0x19, 0xdc, 0x52, 0x68],
    [0x8b, 0x6a, 0xe0, 0x36, 0x71, 0x3b],
    [0x33, 0xd5, 0xb5, 0xb1, 0x5c, 0x70],
    [0x5e, 0x46, 0xf5, 0x43, 0x2f, 0x2c],
    [0x26, 0x55, 0x46, 0x25, 0xdd, 0x68],
    [0xf6, 0xed, 0xf4, 0xe3, 0xba, 0xfd],
    [0xcf, 0x9f, 0xb7, 0x8a, 0xa3, 0xca],
    [0x08, 0x14, 0x09, 0x8c, 0x2d, 0x9a],
    [0xea, 0x1c, 0xfc, 0x70, 0xfb, 0x3f],
    [0x68, 0xed, 0xe8, 0x28, 0xd4, 0xc5],
    [0x86, 0x67, 0xc9, 0xb9, 0xbb, 0x8c],
    [0xe7, 0xaf, 0xa5, 0x12, 0x6f, 0x3d],
    [0xd0, 0x01, 0x02, 0xa1, 0xc5, 0x10],
    [0xf9, 0x54, 0x9b, 0x14, 0x3a, 0x9e],
    [0xda, 0x0f, 0x75, 0x54, 0xe7, 0x9e],
    [0xca, 0x16, 0xea, 0x9b, 0x71, 0xf0],
    [0xf9, 0x5a, 0x03, 0x5a, 0x6b, 0xe8],
    [0xf3, 0xf0, 0x37, 0x8f, 0x70, 0x43],
    [0xbb, 0x4d, 0x8a, 0x4f, 0xd7, 0x6c],
    [0xc9, 0x4a, 0x04, 0x75, 0x3d, 0xfc],
    [0x30, 0x9a, 0x89, 0x71, 0x88, 0x29],
    [0xdd, 0xa5, 0x70, 0x75, 0xdf, 0x7a],
    [0xa6, 0x61, 0xcd, 0xc3, 0x16, 0x22],
    [0xc5, 0x96, 0x93, 0x15, 0x25, 0x8c],
    [0x3a, 0x16, 0x93, 0xac, 0x95, 0x3b],
    [0xe9, 0x0e, 0x58, 0x7d, 0xf6, 0x9f],
    [0x8f, 0xc9, 0x47, 0x45, 0xb2, 0xfd],
    [0xa7, 0x6f, 0xd6, 0xfc, 0x71, 0x78],
    [0x4c, 0x67, 0x4c, 0xe2, 0x3a, 0x86],
    [0xf0, 0x05, 0xc4, 0x06, 0x15, 0x58],
    [0x2a, 0x90, 0xa6, 0x7e, 0x8c, 0x6c],
    [0x5a, 0xdc, 0xee, 0x8c, 0xa7, 0x09],
    [0xff, 0x81, 0xed, 0x50, 0xd5, 0x78],
    [0xed, 0x44, 0x53, 0x6c, 0x44, 0x16],
    [0x64, 0x8e, 0x48, 0x56, 0x64, 0x1a],
    [0xa4, 0x47, 0x3f, 0x64, 0xf9, 0xd0],
    [0x6e, 0x45, 0xfb, 0x3d, 0x1c, 0x2c],
    [0x3c, 0xb4, 0x46, 0xe3, 0x07, 0x0c],
    [0x0a, 0x25, 0xa9, 0x9a, 0xf4, 0x39],
    [0x2c, 0xb5, 0xa1, 0xdc, 0xef, 0x47],
    [0x0e, 0x4d, 0x9c, 0xd4, 0x57, 0xae],
    [0x3b, 0x86, 0x6f, 0x4a, 0x1a, 0xef],
    [0x3e, 0x98, 0xbe, 0xe5, 0xfd, 0xf5],
    [0x99, 0x9a, 0x6d, 0x40, 0xa4, 0x3f],
    [0xf7, 0xe8, 0xb4, 0x8b, 0xaa, 0xf9],
    [0xef, 0xe5, 0x08, 0x20, 0x54, 0x1e],
    [0xf7, 0xd1, 0x98, 0x23, 0x53, 0x67],
    [0x21, 0xa5, 0x8b, 0xdd, 0x20, 0x20],
    [0xed, 0x59, 0xb7, 0x23, 0xb1, 0x6e],
    [0x20, 0xd1, 0xef, 0x94, 0x2f, 0x79],
    [0x8f, 0x23, 0x46, 0xa3, 0x2a, 0xf7],
    [0xb0, 0x98, 0x61, 0xcc, 0x8b, 0x8a],
    [0xb5, 0xe2, 0x63, 0x33, 0x3a, 0x0d],
    [0x63, 0xc1, 0xb7, 0xe7, 0x2b, 0x41],
    [0xaf, 0x90, 0x85, 0x9b, 0x1c, 0xa9],
    [0x9a, 0x52, 0x5e, 0x2f, 0x33, 0xbf],
    [0xc2, 0x83, 0xea, 0x63, 0xf3, 0x00],
    [0x02, 0x0d, 0xe5, 0x60, 0x00, 0xf6],
    [0x55, 0xcf, 0xe9, 0xd4, 0x3d, 0x64],
    [0xb5, 0xd7, 0x69, 0x82, 0x36, 0x39],
    [0xe6, 0x29, 0xca, 0xb5, 0x3c, 0xa1],
    [0x9c, 0xbf, 0xeb, 0x07, 0x9d, 0xde],
    [0xa0, 0xba, 0x1e, 0xd1, 0xea, 0x79],
    [0x0b, 0xe5, 0x49, 0xa5, 0x12, 0xd3],
    [0x78, 0x70, 0xde, 0x1f, 0xc5, 0x61],
    [0x98, 0xa2, 0x54, 0x2f, 0xd2, 0x3d],
    [0xe1, 0xdc, 0x46, 0xb6, 0x45, 0xc4],
];

const SKEW_ASCII: [[u8; 6]; 129] = [
    *b"AsfAGH",
    *b"~sHd0j",
    *b"uI^EYm",
    *b"Q)JN)R",
    *b"o4FoBk",
    *b"*}-Wz1",
    *b"0fssx}",
    *b"mz4VCN",
    *b"my+=5r",
    *b"5HA\\z%",
    *b"`PkXQ<",
    *b"GLSnlm",
    *b"swBzQ#",
    *b"9SC<z ",
    *b"o7~drs",
    *b"K~%q4]",
    *b"gj<m5S",
    *b"&~2Ch{",
    *b"B]az'~",
    *b",2K,DK",
    *b"}[v>zy",
    *b"kXrG^e",
    *b"v%^RG^",
    *b"vi@>8j",
    *b"}dA7*<",
    *b">Y$Kc)",
    *b"uF?T;*",
    *b"~%.@@,",
    *b"JPrAKc",
    *b"*i@lF3",
    *b"9UH>%F",
    *b"-^1~=a",
    *b".\\KqT&",
    *b"9RtsPa",
    *b"Fqy~]O",
    *b"Wj-%?e",
    *b"Rv]QHo",
    *b"1 e!og",
    *b"N,gk>3",
    *b"s.72Y.",
    *b"j*0`gc",
    *b"R+Sh=K",
    *b"x]w]=D",
    *b"maU!Uo",
    *b"smN$i ",
    *b"T}# `9",
    *b"G2oMVH",
    *b"(tv1'>",
    *b"RE%Z{o",
    *b"'%:YY?",
    *b"N(JuG%",
    *b"`E$,xR",
    *b"jzu$Fn",
    *b"|xaPO\\",
    *b"GCU4gf",
    *b"JU9s03",
    *b"D@v9\"\"",
    *b"OffB8(",
    *b"-_) R'",
    *b"'z4P|n",
    *b"[!Nbx&",
    *b"p?\"\\\\6",
    *b"+2A^xP",
    *b"-cuJvy",
    *b"ix^T<S",
    *b"EvtL^`",
    *b"\\E=uj=",
    *b"CU7l~\"",
    *b",vWe=|",
    *b"k|M.el",
    *b"u<#x_G",
    *b"K &>Q-",
    *b"E(g$5-",
    *b"~\\ptsn",
    *b"YhlPk`",
    *b"WBzul,",
    *b"q)epJs",
    *b"`WVkW&",
    *b"HXg#Z^",
    *b"-&8$lc",
    *b"^Spqwo",
    *b"P-6Ybw",
    *b"a`:;yd",
    *b"dO]G~-",
    *b"WM^;rv",
    *b"-WwU4B",
    *b"y'w/PZ",
    *b"#jA`l-",
    *b":!W.=v",
    *b"\"!r4ug",
    *b"O?(|_d",
    *b"xwWRjk",
    *b"Te (9@",
    *b"(cb621",
    *b"hg5x s",
    *b"w5nn`w",
    *b"qeQNoB",
    *b"6n>iMb",
    *b"uGz7S=",
    *b"rd)x<>",
    *b"xEwa^:",
    *b"':]$}b",
    *b"vZl\"Ji",
    *b"o%,!fS",
    *b"*+o@+t",
    *b"(CoKUh",
    *b"I>:9JQ",
    *b"eSzU!X",
    *b"[QZ{a&",
    *b"?:Yp4%",
    *b"'_>/ 4",
    *b"KrNW.!",
    *b"j17a3a",
    *b")o-QLH",
    *b"al;:OE",
    *b"I@L*`H",
    *b"<!pSWF",
    *b"1w@TZu",
    *b"Vh%|Ki",
    *b"h{ydAP",
    *b"]V9hCo",
    *b".TK[[l",
    *b"FktHsd",
    *b"Ki|$-M",
    *b"\\gWC3[",
    *b".\"^}, ",
    *b"k VC?n",
    *b"}]Kk&:",
    *b"12NSK|",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn checksum(format: RecordFormat, first: u64, count: usize) -> String {
        let mut buf = vec![0u8; count * RECORD_LEN];
        generate(format, first, &mut buf);
        Checksum::of(&buf).to_string()
    }

    const BINARY: RecordFormat = RecordFormat {
        ascii: false,
        skew: false,
    };

    #[test]
    fn record_zero_and_the_first_thousand_match_gensort() {
        let mut record = [0u8; RECORD_LEN];
        generate(BINARY, 0, &mut record);
        assert_eq!(&record[..10], b"JimGrayRIP");
        assert_eq!(checksum(BINARY, 0, 1000), "1ea6370b955");
    }

    /// Checksums printed by gensort 1.5 (`gensort -c [-a] [-s] -bSTART COUNT /dev/null`).
    #[test]
    fn every_format_matches_gensort_checksums() {
        let skew = RecordFormat {
            ascii: false,
            skew: true,
        };
        let ascii = RecordFormat {
            ascii: true,
            skew: false,
        };
        let ascii_skew = RecordFormat {
            ascii: true,
            skew: true,
        };
        assert_eq!(checksum(BINARY, 123_456_789, 1000), "1f013ceee6d");
        assert_eq!(checksum(skew, 0, 1000), "1e96301166b");
        assert_eq!(checksum(skew, 5_000_000_000, 2000), "3e09412786f");
        assert_eq!(checksum(ascii, 0, 1000), "1f5dfb3631a");
        assert_eq!(checksum(ascii_skew, 77, 3000), "5d1e9fdeff5");
        // 2^60: gensort's capped skew index (it tests the top four bits, not one).
        assert_eq!(checksum(BINARY, 1 << 60, 500), "fd046b7f3a");
        assert_eq!(checksum(skew, 1 << 60, 500), "fda2b8260a");
    }

    #[test]
    fn a_range_generated_in_pieces_equals_the_whole() {
        for format in [
            BINARY,
            RecordFormat {
                ascii: true,
                skew: true,
            },
        ] {
            let mut whole = vec![0u8; 1000 * RECORD_LEN];
            generate(format, 40, &mut whole);
            let mut pieces = vec![0u8; 1000 * RECORD_LEN];
            let (a, b) = pieces.split_at_mut(333 * RECORD_LEN);
            generate(format, 40, a);
            generate(format, 40 + 333, b);
            assert_eq!(whole, pieces);
        }
    }

    #[test]
    fn ascii_records_are_printable_lines_numbering_themselves() {
        let mut record = [0u8; RECORD_LEN];
        generate(
            RecordFormat {
                ascii: true,
                skew: false,
            },
            0xABC,
            &mut record,
        );
        assert!(record[..98].iter().all(|b| (b' '..=b'~').contains(b)));
        assert_eq!(&record[12..44], b"00000000000000000000000000000ABC");
        assert_eq!(&record[98..], b"\r\n");
    }
}
