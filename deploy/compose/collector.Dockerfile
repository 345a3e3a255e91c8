# The collector as one static binary on a distroless base.
FROM golang:1.26 AS build
WORKDIR /src
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /lambdascope-collector ./collector/cmd/lambdascope-collector

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /lambdascope-collector /usr/local/bin/lambdascope-collector
EXPOSE 4317 4318 8888
ENTRYPOINT ["/usr/local/bin/lambdascope-collector"]
