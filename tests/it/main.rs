mod sx_fake;
mod sx_protocol;
