//! Organization logos. Only PNG, JPEG and WebP are accepted (never SVG, which can carry script);
//! the image is decoded with size limits, scaled to fit 256×256 and re-encoded as PNG, so what we
//! serve is always an image we wrote ourselves.
use crate::server::{
    authz::OrgScope,
    db,
    service::audit::{self, Event},
    state::AppState,
};
use crate::shared::{audit::Action, error::AppError, ids::OrgId, roles::Permission};
use image::{ImageFormat, ImageReader, Limits};
use serde_json::json;
use std::io::Cursor;

pub const MAX_UPLOAD_BYTES: usize = 512 * 1024;
const MAX_SIDE: u32 = 256;

fn invalid(message: &str) -> AppError {
    AppError::invalid_field("logo", message)
}

/// Checks and re-encodes an upload; runs on the blocking pool (decoding is CPU work).
pub async fn normalise(bytes: Vec<u8>) -> Result<Vec<u8>, AppError> {
    if bytes.is_empty() {
        return Err(invalid("Choose an image file."));
    }
    if bytes.len() > MAX_UPLOAD_BYTES {
        return Err(invalid("A logo can be at most 512 KB."));
    }
    tokio::task::spawn_blocking(move || {
        let format = image::guess_format(&bytes).map_err(|_| invalid("Upload a PNG, JPEG or WebP image."))?;
        if !matches!(format, ImageFormat::Png | ImageFormat::Jpeg | ImageFormat::WebP) {
            return Err(invalid("Upload a PNG, JPEG or WebP image."));
        }
        let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
        let mut limits = Limits::default();
        limits.max_image_width = Some(4096);
        limits.max_image_height = Some(4096);
        limits.max_alloc = Some(64 * 1024 * 1024);
        reader.limits(limits);
        let decoded = reader.decode().map_err(|_| invalid("That image could not be read."))?;
        let scaled = if decoded.width() > MAX_SIDE || decoded.height() > MAX_SIDE {
            decoded.thumbnail(MAX_SIDE, MAX_SIDE)
        } else {
            decoded
        };
        let mut png = Vec::new();
        scaled
            .write_to(&mut Cursor::new(&mut png), ImageFormat::Png)
            .map_err(|e| crate::server::error::internal(format!("encoding logo: {e}")))?;
        Ok(png)
    })
    .await
    .map_err(crate::server::error::internal)?
}

/// Sets (or with `None` removes) the logo.
pub async fn set(app: &AppState, scope: &OrgScope, upload: Option<Vec<u8>>) -> Result<(), AppError> {
    scope.require(Permission::OrgWrite)?;
    let png = match upload {
        Some(bytes) => Some(normalise(bytes).await?),
        None => None,
    };
    let now = db::now();
    let url = png.as_ref().map(|_| format!("/logos/{}?v={}", scope.org_id(), db::to_millis(now)));
    let mut tx = app.db.begin_write().await?;
    db::orgs::lock(&mut tx, scope.org_id()).await?;
    db::orgs::set_logo(&mut tx, scope.org_id(), png.as_deref(), url.as_deref(), now).await?;
    let event = Event {
        action: if png.is_some() { Action::OrganizationLogoChanged } else { Action::OrganizationLogoRemoved },
        resource_type: "organization",
        resource_id: Some(scope.org_id().to_string()),
        metadata: json!({ "bytes": png.as_ref().map(Vec::len) }),
    };
    audit::record(&mut tx, scope, event).await?;
    db::commit(tx).await?;
    app.forget_org(scope.org_id());
    Ok(())
}

/// The stored PNG. Public on purpose: invitation pages show it to people who are not members yet.
pub async fn get(app: &AppState, org: OrgId) -> Result<Vec<u8>, AppError> {
    db::orgs::logo(app.db.pool(), org).await?.ok_or_else(|| AppError::not_found("logo"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(format: ImageFormat, side: u32) -> Vec<u8> {
        let img = image::DynamicImage::new_rgb8(side, side);
        let mut out = Vec::new();
        img.write_to(&mut Cursor::new(&mut out), format).unwrap();
        out
    }

    #[tokio::test]
    async fn images_are_checked_scaled_and_re_encoded() {
        let png = normalise(encoded(ImageFormat::Png, 600)).await.unwrap();
        let back = image::load_from_memory(&png).unwrap();
        assert_eq!((back.width(), back.height()), (256, 256));
        assert!(normalise(encoded(ImageFormat::Jpeg, 32)).await.is_ok());
        let svg = b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>".to_vec();
        assert_eq!(normalise(svg).await.unwrap_err().field(), Some("logo"));
        let mut truncated = encoded(ImageFormat::Png, 64);
        truncated.truncate(60);
        assert!(normalise(truncated).await.is_err());
        assert!(normalise(vec![0x89; MAX_UPLOAD_BYTES + 1]).await.is_err());
    }
}
