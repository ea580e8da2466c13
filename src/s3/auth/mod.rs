//! Request authentication: AWS Signature Version 4 and 2.
