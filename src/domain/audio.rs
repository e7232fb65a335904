//! Voice notes: the formats we accept, recognised by their content (a declared mime type or file name
//! proves nothing — a PNG named `voice.ogg` is still a PNG).

/// The most a voice note may weigh: the speech-to-text API's own limit.
pub const MAX_AUDIO_BYTES: usize = 25 * 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AudioFormat {
    /// Ogg container (Telegram voice notes: Opus in Ogg; also .oga/.opus files).
    Ogg,
    Mp3,
    /// MPEG-4 audio (.m4a).
    M4a,
    Wav,
    Webm,
}

impl AudioFormat {
    /// Recognises the format from the first bytes of the file.
    pub fn sniff(bytes: &[u8]) -> Option<Self> {
        let starts = |magic: &[u8]| bytes.starts_with(magic);
        if starts(b"OggS") {
            Some(Self::Ogg)
        } else if starts(b"ID3")
            || (bytes.len() >= 2 && bytes[0] == 0xFF && bytes[1] & 0xE0 == 0xE0)
        {
            Some(Self::Mp3)
        } else if bytes.len() >= 12 && &bytes[4..8] == b"ftyp" {
            Some(Self::M4a)
        } else if bytes.len() >= 12 && starts(b"RIFF") && &bytes[8..12] == b"WAVE" {
            Some(Self::Wav)
        } else if starts(&[0x1A, 0x45, 0xDF, 0xA3]) {
            Some(Self::Webm)
        } else {
            None
        }
    }

    pub fn mime(self) -> &'static str {
        match self {
            Self::Ogg => "audio/ogg",
            Self::Mp3 => "audio/mpeg",
            Self::M4a => "audio/mp4",
            Self::Wav => "audio/wav",
            Self::Webm => "audio/webm",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Self::Ogg => "ogg",
            Self::Mp3 => "mp3",
            Self::M4a => "m4a",
            Self::Wav => "wav",
            Self::Webm => "webm",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_are_recognised_by_content() {
        assert_eq!(
            AudioFormat::sniff(b"OggS\0\x02rest"),
            Some(AudioFormat::Ogg)
        );
        assert_eq!(AudioFormat::sniff(b"ID3\x04\0\0"), Some(AudioFormat::Mp3));
        assert_eq!(
            AudioFormat::sniff(&[0xFF, 0xFB, 0x90, 0x64]),
            Some(AudioFormat::Mp3)
        );
        assert_eq!(
            AudioFormat::sniff(b"\0\0\0\x20ftypM4A \0\0"),
            Some(AudioFormat::M4a)
        );
        assert_eq!(
            AudioFormat::sniff(b"RIFF\x24\0\0\0WAVEfmt "),
            Some(AudioFormat::Wav)
        );
        assert_eq!(
            AudioFormat::sniff(&[0x1A, 0x45, 0xDF, 0xA3, 1]),
            Some(AudioFormat::Webm)
        );
    }

    #[test]
    fn other_files_are_not_audio() {
        assert_eq!(AudioFormat::sniff(b"\x89PNG\r\n\x1a\n"), None);
        assert_eq!(AudioFormat::sniff(b"%PDF-1.7"), None);
        assert_eq!(AudioFormat::sniff(b""), None);
        assert_eq!(AudioFormat::sniff(b"hello, world"), None);
    }
}
