"""The local web app: upload a photo (places, month x hour posterior, EXIF claim check) and search a gallery."""
