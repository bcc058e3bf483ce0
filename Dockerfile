# Production image: a plain mirror of scripts/run. No Docker engine runs on the build machines,
# so this file is kept simple and in step with scripts/lib.sh by hand.
FROM python:3.11-slim-bookworm

RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      gcc pkg-config fonts-liberation2 fonts-noto-core ca-certificates \
 && rm -rf /var/lib/apt/lists/*

RUN useradd --system --create-home --home-dir /var/lib/hoinghi hoinghi
WORKDIR /opt/hoinghi
COPY pyproject.toml setup.py README.md rooms.toml ./
COPY meetings ./meetings
COPY sfu ./sfu
COPY transcription ./transcription
COPY web ./web
RUN pip install --no-cache-dir . && install -d -o hoinghi /etc/hoinghi && cp rooms.toml /etc/hoinghi/rooms.toml

USER hoinghi
ENV HOINGHI_DATA_DIR=/var/lib/hoinghi
EXPOSE 8443/tcp
# Media (WebRTC) uses UDP; publish the host's UDP ports or run with --network host.
CMD ["hoinghi", "serve", "--host", "0.0.0.0", "--port", "8443", "--config", "/etc/hoinghi/rooms.toml"]
