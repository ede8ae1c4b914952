# certbound: one static binary on a minimal base, running as a non-root user
# with its data on a volume.
#
#   docker build -t certbound .
#   docker run -p 8443:8443 -v certbound-data:/data certbound \
#     serve --listen 0.0.0.0:8443 --dns localhost,127.0.0.1,ca.example.internal --issuer https://ca.example.internal:8443
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/certbound ./cmd/certbound \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/certbound /usr/local/bin/certbound
# The data dir must be private to the server's user (certbound refuses
# anything group- or world-readable); distroless' nonroot is uid 65532.
COPY --from=build --chown=65532:65532 --chmod=0700 /out/data /data
USER 65532:65532
ENV CERTBOUND_DATA_DIR=/data
VOLUME ["/data"]
EXPOSE 8443
ENTRYPOINT ["/usr/local/bin/certbound"]
CMD ["serve", "--listen", "0.0.0.0:8443"]
