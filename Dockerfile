# Banter: one static binary in a minimal, non-root image.
#
#   docker build -t banter .
#   docker run -p 3000:3000 -v banter-data:/data banter
#
# The browser client bundle and the Admin UI dashboard come from the npm
# registry at build time (package-lock.json pins them); nothing third-party
# is committed.

# 1. The official Socket.IO browser client, from npm.
FROM node:20-bookworm-slim AS bundle
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error --omit=optional
COPY scripts/bundle.sh scripts/
RUN mkdir -p socketio/clientdist socketio/admin/ui/dist && bash scripts/bundle.sh

# 2. A static binary (pure Go: SQLite is modernc.org/sqlite, no cgo).
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
COPY --from=bundle /src/socketio/clientdist/dist/ socketio/clientdist/dist/
COPY --from=bundle /src/socketio/admin/ui/dist/ socketio/admin/ui/dist/
ARG VERSION=docker
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/banter ./cmd/banter \
 && mkdir -p /out/data

# 3. Nothing but the binary, CA certificates and a non-root user.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/banter /usr/local/bin/banter
COPY --from=build --chown=nonroot:nonroot /out/data /data
USER nonroot:nonroot
WORKDIR /data
ENV BANTER_ADDR=:3000 BANTER_DB=/data/banter.db
EXPOSE 3000
VOLUME ["/data"]
HEALTHCHECK NONE
ENTRYPOINT ["/usr/local/bin/banter"]
CMD ["serve"]
