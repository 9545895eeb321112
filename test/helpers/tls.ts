/**
 * A self-signed certificate for an HTTPS upstream on localhost / 127.0.0.1 (EC P-256, valid until
 * 2126), made once with `openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days
 * 36500 -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1`. Test-only: nothing
 * else trusts it.
 */
export const UPSTREAM_CERT = `-----BEGIN CERTIFICATE-----
MIIBmzCCAUGgAwIBAgIUN13v0swg7xQNJxahvUX4BiByxBswCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJbG9jYWxob3N0MCAXDTI2MTEzMDEyNDQyOVoYDzIxMjYxMTA2
MTI0NDI5WjAUMRIwEAYDVQQDDAlsb2NhbGhvc3QwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAATI6yV+hj9kL/K6ndxfVGAn5qKTeO8QiGo/kBk7IT70C0nG/LX3sWeG
qO1k1Qd5q/zvZ5cIxzWjc8oCTF0QSJUKo28wbTAdBgNVHQ4EFgQUwAV/GPlF/BSY
m5PJp2JSHsRcvOAwHwYDVR0jBBgwFoAUwAV/GPlF/BSYm5PJp2JSHsRcvOAwDwYD
VR0TAQH/BAUwAwEB/zAaBgNVHREEEzARgglsb2NhbGhvc3SHBH8AAAEwCgYIKoZI
zj0EAwIDSAAwRQIgdv0pAQOZe5r6uzHCxKQCaJ7x+x/ClniI6wXEN1breoACIQDD
WKeOgy7liwPZkOpG6xi9LDH0He8gt51Yv8vHZhCKCA==
-----END CERTIFICATE-----
`;

export const UPSTREAM_KEY = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgn4DACE1920anL8lm
AnzmcYGtB4hKJL5JHb3cMaRsqdGhRANCAATI6yV+hj9kL/K6ndxfVGAn5qKTeO8Q
iGo/kBk7IT70C0nG/LX3sWeGqO1k1Qd5q/zvZ5cIxzWjc8oCTF0QSJUK
-----END PRIVATE KEY-----
`;
