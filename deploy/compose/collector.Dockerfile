# The collector as one static binary on a distroless base.
FROM golang:1.26 AS build
WORKDIR /src
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /lambdascope-collector ./collector/cmd/lambdascope-collector
# The data directory (WAL, quarantine), owned by the nonroot user so that a
# named volume mounted there starts writable.
RUN mkdir -p /state/var/lib/lambdascope-collector

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /lambdascope-collector /usr/local/bin/lambdascope-collector
COPY --from=build --chown=65532:65532 /state/var/lib/lambdascope-collector /var/lib/lambdascope-collector
EXPOSE 4317 4318 8888
ENTRYPOINT ["/usr/local/bin/lambdascope-collector"]
