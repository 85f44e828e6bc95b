//! ngi-consent
