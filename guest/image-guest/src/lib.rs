//! `image`: the size and format of a PNG or JPEG (`info`), and PNG
//! thumbnails that fit in a square (`thumbnail`).
//!
//! The format is guessed from the data's first bytes, never from a file
//! name. Thumbnails keep the aspect ratio, are never enlarged, follow the
//! Exif orientation of the source (a portrait photo stored sideways comes
//! out upright) and are 8 bits per channel.
//!
//! # Limits
//!
//! A small file can declare a huge image (a decompression bomb), so
//! `thumbnail` refuses images wider or taller than [`MAX_SIDE`] pixels, or
//! whose pixels would take more than [`MAX_ALLOC`] bytes, before decoding
//! them. `info` reads headers only and reports any size.

// Natively nothing is exported (so that test binaries do not link the
// component's export symbols): the logic is reachable only from the tests.
#![cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]

use std::io::Cursor;

use image::imageops::FilterType;
use image::metadata::Orientation;
use image::{ColorType, DynamicImage, ImageDecoder, ImageError, ImageFormat, ImageReader, Limits};

wit_bindgen::generate!({ world: "image", path: "../wit" });

/// The widest or tallest image `thumbnail` decodes, in pixels.
pub const MAX_SIDE: u32 = 8192;

/// The most memory the decoder may allocate, in bytes (256 MiB: an 8192 ×
/// 8192 RGBA image, or a 16-bit RGBA one of 5792 × 5792).
pub const MAX_ALLOC: u64 = 256 * 1024 * 1024;

/// The resampling filter: bilinear, which the `image` crate widens to cover
/// every source pixel when shrinking, so thumbnails are smooth and free of
/// aliasing. About 2× faster than Lanczos3, and the difference in sharpness
/// does not show at thumbnail sizes.
const FILTER: FilterType = FilterType::Triangle;

/// The component's exports (exported on wasm32 only).
struct ImageGuest;

/// The lowercase name wpool reports for a format (`png`, `jpeg`, `gif`, …).
fn format_name(format: ImageFormat) -> String {
    format!("{format:?}").to_lowercase()
}

/// The format of `data`, when it is one this guest decodes.
fn detect_format(data: &[u8]) -> Result<ImageFormat, String> {
    if data.is_empty() {
        return Err("empty input: expected PNG or JPEG data".to_owned());
    }
    match image::guess_format(data) {
        Ok(format @ (ImageFormat::Png | ImageFormat::Jpeg)) => Ok(format),
        Ok(other) => Err(format!(
            "unsupported image format `{}`: expected PNG or JPEG",
            format_name(other)
        )),
        Err(_) => {
            let start: Vec<String> = data.iter().take(8).map(|b| format!("{b:02x}")).collect();
            Err(format!(
                "not a PNG or JPEG image ({} bytes starting `{}`)",
                data.len(),
                start.join(" ")
            ))
        }
    }
}

/// A reader for `data` in `format`, with the decoding limits set.
fn reader(data: &[u8], format: ImageFormat, limits: Limits) -> ImageReader<Cursor<&[u8]>> {
    let mut reader = ImageReader::with_format(Cursor::new(data), format);
    reader.limits(limits);
    reader
}

/// The limits `info` reads headers under: any size, bounded metadata.
fn header_limits() -> Limits {
    let mut limits = Limits::no_limits();
    limits.max_alloc = Some(MAX_ALLOC);
    limits
}

/// The limits `thumbnail` decodes under.
fn decode_limits() -> Limits {
    let mut limits = Limits::no_limits();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_ALLOC);
    limits
}

/// Width, height and format name of a PNG or JPEG, from its header.
fn image_info(data: &[u8]) -> Result<Info, String> {
    let format = detect_format(data)?;
    let name = format_name(format);
    let (width, height) = reader(data, format, header_limits())
        .into_dimensions()
        .map_err(|e| format!("cannot read {name} header: {e}"))?;
    Ok(Info {
        width,
        height,
        format: name,
    })
}

/// Decodes a PNG or JPEG within [`decode_limits`], applying its Exif
/// orientation.
fn decode(data: &[u8]) -> Result<DynamicImage, String> {
    let format = detect_format(data)?;
    let name = format_name(format);
    let header_error = |e: ImageError| format!("cannot read {name} header: {e}");
    // The header first, with no size limit, so an oversized image gets a
    // message that names its size.
    let mut decoder = reader(data, format, header_limits())
        .into_decoder()
        .map_err(header_error)?;
    let (width, height) = decoder.dimensions();
    let bytes = decoder.total_bytes();
    if width > MAX_SIDE || height > MAX_SIDE {
        return Err(format!(
            "{name} image is {width}×{height} pixels, over the {MAX_SIDE}×{MAX_SIDE} limit"
        ));
    }
    if bytes > MAX_ALLOC {
        return Err(format!(
            "{name} image is {width}×{height} pixels of {:?}: decoding it needs {} MiB, over the {} MiB limit",
            decoder.color_type(),
            bytes.div_ceil(1 << 20),
            MAX_ALLOC >> 20
        ));
    }
    let mut limits = decode_limits();
    limits
        .reserve(bytes)
        .and_then(|()| decoder.set_limits(limits))
        .map_err(|e| format!("cannot decode {name} image of {width}×{height} pixels: {e}"))?;
    // An unreadable Exif block is not worth failing over.
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let mut image = DynamicImage::from_decoder(decoder)
        .map_err(|e| format!("cannot decode {name} image of {width}×{height} pixels: {e}"))?;
    image.apply_orientation(orientation);
    Ok(image)
}

/// The size of a `width`×`height` image scaled to fit in `max_side` ×
/// `max_side`, aspect kept (rounded, at least 1), never enlarged.
fn fit(width: u32, height: u32, max_side: u32) -> (u32, u32) {
    if width <= max_side && height <= max_side {
        return (width, height);
    }
    // Scale the longer side to `max_side` and round the shorter one.
    let scale = |short: u32, long: u32| {
        let scaled =
            (u64::from(short) * u64::from(max_side) + u64::from(long) / 2) / u64::from(long);
        // `scaled <= max_side` because `short <= long`.
        u32::try_from(scaled).unwrap_or(max_side).max(1)
    };
    if width >= height {
        (max_side, scale(height, width))
    } else {
        (scale(width, height), max_side)
    }
}

/// `image` with 8 bits per channel (16-bit PNGs would make thumbnails twice
/// as large for no visible gain).
fn to_8bit(image: DynamicImage) -> DynamicImage {
    match image.color() {
        ColorType::L8 | ColorType::La8 | ColorType::Rgb8 | ColorType::Rgba8 => image,
        ColorType::L16 => image.into_luma8().into(),
        ColorType::La16 => image.into_luma_alpha8().into(),
        color if color.has_alpha() => image.into_rgba8().into(),
        _ => image.into_rgb8().into(),
    }
}

/// A PNG of `data` (PNG or JPEG) fitting in `max_side` × `max_side`.
fn make_thumbnail(data: &[u8], max_side: u32) -> Result<Vec<u8>, String> {
    if max_side == 0 {
        return Err("`max-side` must be at least 1".to_owned());
    }
    let image = decode(data)?;
    let (width, height) = fit(image.width(), image.height(), max_side);
    let image = if (width, height) == (image.width(), image.height()) {
        image
    } else {
        image.resize_exact(width, height, FILTER)
    };
    let mut png = Vec::new();
    to_8bit(image)
        .write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
        .map_err(|e| format!("cannot encode the {width}×{height} thumbnail as PNG: {e}"))?;
    Ok(png)
}

impl Guest for ImageGuest {
    fn info(data: Vec<u8>) -> Result<Info, String> {
        image_info(&data)
    }

    fn thumbnail(data: Vec<u8>, max_side: u32) -> Result<Vec<u8>, String> {
        make_thumbnail(&data, max_side)
    }
}

#[cfg(target_arch = "wasm32")]
export!(ImageGuest);

#[cfg(test)]
mod tests {
    use super::*;
    use image::{ImageBuffer, Luma, Rgb, Rgba};

    const PNG_MAGIC: &[u8] = b"\x89PNG\r\n\x1a\n";

    /// A `width`×`height` RGB gradient.
    fn gradient(width: u32, height: u32) -> DynamicImage {
        ImageBuffer::from_fn(width, height, |x, y| {
            Rgb([(x * 255 / width) as u8, (y * 255 / height) as u8, 128])
        })
        .into()
    }

    fn encode(image: &DynamicImage, format: ImageFormat) -> Vec<u8> {
        let mut out = Vec::new();
        image.write_to(&mut Cursor::new(&mut out), format).unwrap();
        out
    }

    fn decoded(png: &[u8]) -> DynamicImage {
        assert!(png.starts_with(PNG_MAGIC), "not a PNG: {:?}", &png[..8]);
        image::load_from_memory_with_format(png, ImageFormat::Png).unwrap()
    }

    /// A PNG whose header declares `width`×`height` RGBA pixels of `bits`
    /// bits per channel, with no pixel data.
    fn png_header_only(width: u32, height: u32, bits: u8) -> Vec<u8> {
        let mut ihdr = b"IHDR".to_vec();
        ihdr.extend(width.to_be_bytes());
        ihdr.extend(height.to_be_bytes());
        ihdr.extend([bits, 6, 0, 0, 0]); // RGBA, deflate, no interlace
        let mut png = PNG_MAGIC.to_vec();
        for chunk in [ihdr, b"IDAT".to_vec(), b"IEND".to_vec()] {
            png.extend((chunk.len() as u32 - 4).to_be_bytes());
            png.extend(&chunk);
            png.extend(crc32(&chunk).to_be_bytes());
        }
        png
    }

    fn crc32(data: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &b in data {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xedb8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    #[test]
    fn info_of_png_and_jpeg() {
        let png = encode(&gradient(400, 300), ImageFormat::Png);
        let info = image_info(&png).unwrap();
        assert_eq!(
            (info.width, info.height, info.format.as_str()),
            (400, 300, "png")
        );

        let jpeg = encode(&gradient(123, 45), ImageFormat::Jpeg);
        let info = image_info(&jpeg).unwrap();
        assert_eq!(
            (info.width, info.height, info.format.as_str()),
            (123, 45, "jpeg")
        );
    }

    #[test]
    fn info_reads_the_header_of_a_huge_image() {
        let info = image_info(&png_header_only(100_000, 50_000, 8)).unwrap();
        assert_eq!((info.width, info.height), (100_000, 50_000));
    }

    #[test]
    fn info_rejects_garbage_and_other_formats() {
        let err = image_info(b"hello, world").unwrap_err();
        assert_eq!(
            err,
            "not a PNG or JPEG image (12 bytes starting `68 65 6c 6c 6f 2c 20 77`)"
        );
        assert_eq!(
            image_info(&[]).unwrap_err(),
            "empty input: expected PNG or JPEG data"
        );
        let err = image_info(b"GIF89a\x01\x00\x01\x00\x00\x00\x00").unwrap_err();
        assert_eq!(err, "unsupported image format `gif`: expected PNG or JPEG");
    }

    #[test]
    fn info_rejects_a_truncated_header() {
        let png = encode(&gradient(10, 10), ImageFormat::Png);
        let err = image_info(&png[..12]).unwrap_err();
        assert!(err.starts_with("cannot read png header: "), "{err}");
    }

    #[test]
    fn fit_keeps_the_aspect_and_never_enlarges() {
        assert_eq!(fit(400, 300, 100), (100, 75));
        assert_eq!(fit(300, 400, 100), (75, 100));
        assert_eq!(fit(50, 40, 100), (50, 40));
        assert_eq!(fit(100, 100, 100), (100, 100));
        assert_eq!(fit(640, 480, 128), (128, 96));
        assert_eq!(fit(800, 600, 128), (128, 96));
        assert_eq!(fit(512, 512, 128), (128, 128));
        assert_eq!(fit(1000, 1, 100), (100, 1));
        assert_eq!(fit(1, 1000, 10), (1, 10));
        assert_eq!(fit(3, 2, 1), (1, 1));
        assert_eq!(fit(u32::MAX, u32::MAX - 1, u32::MAX - 2).0, u32::MAX - 2);
    }

    #[test]
    fn thumbnail_of_png_shrinks_to_fit() {
        let png = encode(&gradient(400, 300), ImageFormat::Png);
        let thumb = decoded(&make_thumbnail(&png, 100).unwrap());
        assert_eq!((thumb.width(), thumb.height()), (100, 75));
        // The gradient survives: dark on the left, bright on the right.
        let rgb = thumb.to_rgb8();
        assert!(rgb.get_pixel(0, 0)[0] < 10);
        assert!(rgb.get_pixel(99, 0)[0] > 245);
    }

    #[test]
    fn thumbnail_of_jpeg_is_a_png() {
        let jpeg = encode(&gradient(300, 400), ImageFormat::Jpeg);
        let png = make_thumbnail(&jpeg, 100).unwrap();
        let thumb = decoded(&png);
        assert_eq!((thumb.width(), thumb.height()), (75, 100));
        assert_eq!(image_info(&png).unwrap().format, "png");
    }

    #[test]
    fn thumbnail_never_enlarges() {
        let png = encode(&gradient(50, 40), ImageFormat::Png);
        let thumb = decoded(&make_thumbnail(&png, 100).unwrap());
        assert_eq!((thumb.width(), thumb.height()), (50, 40));
        assert_eq!(thumb.to_rgb8(), gradient(50, 40).to_rgb8());
    }

    #[test]
    fn thumbnail_keeps_alpha_and_grey_and_drops_16_bits() {
        let rgba: DynamicImage =
            ImageBuffer::from_fn(64, 32, |x, _| Rgba([255, 0, 0, (x * 4) as u8])).into();
        let thumb = decoded(&make_thumbnail(&encode(&rgba, ImageFormat::Png), 16).unwrap());
        assert_eq!(
            (thumb.width(), thumb.height(), thumb.color()),
            (16, 8, ColorType::Rgba8)
        );

        let grey16: DynamicImage =
            ImageBuffer::from_fn(40, 40, |x, y| Luma([(x * y * 40) as u16])).into();
        let thumb = decoded(&make_thumbnail(&encode(&grey16, ImageFormat::Png), 20).unwrap());
        assert_eq!(
            (thumb.width(), thumb.height(), thumb.color()),
            (20, 20, ColorType::L8)
        );
    }

    #[test]
    fn thumbnail_rejects_zero_and_garbage() {
        let png = encode(&gradient(10, 10), ImageFormat::Png);
        assert_eq!(
            make_thumbnail(&png, 0).unwrap_err(),
            "`max-side` must be at least 1"
        );
        let err = make_thumbnail(b"\x00\x01\x02not an image", 100).unwrap_err();
        assert!(
            err.starts_with("not a PNG or JPEG image (15 bytes"),
            "{err}"
        );
    }

    #[test]
    fn thumbnail_rejects_corrupt_data() {
        // A JPEG cut short in its header, and one whose header is garbage.
        // (zune-jpeg decodes a JPEG cut short in its pixel data, filling
        // the rest, as browsers do.)
        let jpeg = encode(&gradient(200, 200), ImageFormat::Jpeg);
        let err = make_thumbnail(&jpeg[..40], 50).unwrap_err();
        assert!(err.starts_with("cannot read jpeg header: "), "{err}");
        let err = make_thumbnail(b"\xff\xd8\xff\xe0garbage garbage", 50).unwrap_err();
        assert!(err.starts_with("cannot read jpeg header: "), "{err}");
        // A valid PNG header, then the pixel data cut short.
        let mut png = encode(&gradient(200, 200), ImageFormat::Png);
        png.truncate(png.len() / 2);
        let err = make_thumbnail(&png, 50).unwrap_err();
        assert!(
            err.starts_with("cannot decode png image of 200×200 pixels: "),
            "{err}"
        );
    }

    #[test]
    fn thumbnail_refuses_decompression_bombs() {
        let err = make_thumbnail(&png_header_only(100_000, 100_000, 8), 128).unwrap_err();
        assert_eq!(
            err,
            "png image is 100000×100000 pixels, over the 8192×8192 limit"
        );
        let err = make_thumbnail(&png_header_only(8192, 9000, 8), 128).unwrap_err();
        assert_eq!(
            err,
            "png image is 8192×9000 pixels, over the 8192×8192 limit"
        );
        // Within the size limit, but 16-bit RGBA: 8 bytes a pixel.
        let err = make_thumbnail(&png_header_only(6000, 6000, 16), 128).unwrap_err();
        assert_eq!(
            err,
            "png image is 6000×6000 pixels of Rgba16: decoding it needs 275 MiB, over the 256 MiB limit"
        );
        // Just within both limits: refused only for its missing pixel data.
        let err = make_thumbnail(&png_header_only(8192, 8192, 8), 128).unwrap_err();
        assert!(
            err.starts_with("cannot decode png image of 8192×8192 pixels: "),
            "{err}"
        );
    }

    #[test]
    fn thumbnail_follows_exif_orientation() {
        let image = gradient(40, 20);
        let mut png = Vec::new();
        let mut encoder = image::codecs::png::PngEncoder::new(&mut png);
        // Exif: big-endian TIFF header, one IFD entry: Orientation (0x0112) = 6
        // (rotate 90° clockwise to display).
        let exif = b"MM\x00\x2a\x00\x00\x00\x08\x00\x01\x01\x12\x00\x03\x00\x00\x00\x01\x00\x06\x00\x00\x00\x00\x00\x00".to_vec();
        image::ImageEncoder::set_exif_metadata(&mut encoder, exif).unwrap();
        image::ImageEncoder::write_image(
            encoder,
            image.as_bytes(),
            40,
            20,
            image::ExtendedColorType::Rgb8,
        )
        .unwrap();
        let thumb = decoded(&make_thumbnail(&png, 10).unwrap());
        assert_eq!((thumb.width(), thumb.height()), (5, 10));
    }
}
