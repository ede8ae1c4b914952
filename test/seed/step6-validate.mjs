// The seed guide's Step 6 ("Verify an Access Token"), unchanged except:
//   '<YOUR_API_DOMAIN>' → process.env.API_DOMAIN (certbound's base URL);
//   import jose from "jose" → import * as jose from "jose": jose (v4 and
//     later, 6.2.18 here) has no default export, so the seed's line fails
//     with "does not provide an export named 'default'" on any server;
//   one line appended, exporting the function for the driver.
// ---- seed code below ----
import * as jose from "jose";

const JWKS = jose.createRemoteJWKSet(new URL(`${process.env.API_DOMAIN}/auth/jwt/jwks.json`))

async function validateClientCredentialsToken(jwt) {
  const requiredScope = "event.create";
  const audience = "event";

  try {
    const { payload } = await jose.jwtVerify(jwt, JWKS, {
      audience,
      requiredClaims: ['stt', 'scp'],
    });

    if (payload.stt !== 1) return false;
    return payload.scp.includes(requiredScope);
  } catch (err) {
    return false;
  }
}
// ---- end of seed code ----
export { validateClientCredentialsToken };
