# The hello worker as an image. Build context: the repository root (compose.yaml sets it),
# because the worker is a member of the Cargo workspace.
FROM rust:1.95-slim AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p hello-worker

FROM debian:bookworm-slim
COPY --from=build /src/target/release/hello-worker /usr/local/bin/hello-worker
# Listen on every interface of the container, so that the published port reaches it.
ENV BIND_ADDRESS=0.0.0.0 PORT=8080
EXPOSE 8080
# Stopped by SIGTERM (docker compose down): the worker exits cleanly on it.
CMD ["hello-worker"]
