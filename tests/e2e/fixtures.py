"""Image fixtures for the browser tests, made with Pillow (pinned in .ci/run).

    fixtures.py rotated-jpeg OUT MIN_BYTES   a camera-like JPEG of at least MIN_BYTES whose
                                            pixels are stored sideways with EXIF orientation 6
                                            and a GPS position; upright it is 3000x4000, red
                                            on top, blue at the bottom
    fixtures.py animated-gif OUT MIN_BYTES   a two-frame animated GIF of at least MIN_BYTES
    fixtures.py describe FILE                JSON: format, size, EXIF tags, mean colour of the
                                            top and bottom eighths of the stored pixels
"""
import io
import json
import os
import sys

from PIL import Image

RED = (220, 20, 20)
BLUE = (20, 40, 220)


def noise(width, height):
    # Grey noise: incompressible enough to make a big file, neutral enough to
    # keep the red and blue bands the clearest colours.
    grey = Image.frombytes("L", (width, height), os.urandom(width * height))
    return Image.merge("RGB", (grey, grey, grey))


def rotated_jpeg(out, min_bytes):
    width, height = 3000, 4000
    upright = noise(width, height)
    band = height // 6
    upright.paste(RED, (0, 0, width, band))
    upright.paste(BLUE, (0, height - band, width, height))
    # Orientation 6: "rotate 90° clockwise to display", so the stored pixels
    # are the upright picture turned 90° anticlockwise.
    stored = upright.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation
    exif[0x010F] = "Presign Test Camera"  # Make
    exif.get_ifd(0x8825).update({1: "N", 2: (48.0, 51.0, 24.0), 3: "E", 4: (2.0, 21.0, 3.0)})  # GPS
    for quality in (90, 93, 95, 97, 98, 99, 100):
        buffer = io.BytesIO()
        stored.save(buffer, "JPEG", quality=quality, exif=exif.tobytes())
        if buffer.tell() >= min_bytes:
            with open(out, "wb") as f:
                f.write(buffer.getvalue())
            return
    sys.exit(f"could not make a JPEG of {min_bytes} bytes")


def animated_gif(out, min_bytes):
    # Random palette indices do not compress: two frames of side² pixels
    # take a little over 2·side² bytes.
    side = int((min_bytes / 2) ** 0.5) + 16
    frames = [Image.frombytes("P", (side, side), os.urandom(side * side)) for _ in range(2)]
    for frame in frames:
        frame.putpalette(bytes(range(256)) * 3)
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=200, loop=0, optimize=False)
    if os.path.getsize(out) < min_bytes:
        sys.exit(f"could not make a GIF of {min_bytes} bytes")


def describe(path):
    image = Image.open(path)
    rgb = image.convert("RGB")
    width, height = rgb.size
    def mean(box):
        part = rgb.crop(box).resize((1, 1), Image.Resampling.BOX)
        return list(part.getpixel((0, 0)))
    print(json.dumps({
        "format": image.format,
        "width": width,
        "height": height,
        "frames": getattr(image, "n_frames", 1),
        "exifTags": sorted(image.getexif().keys()),
        "top": mean((0, 0, width, height // 8)),
        "bottom": mean((0, height - height // 8, width, height)),
    }))


if __name__ == "__main__":
    command, path, *rest = sys.argv[1:]
    if command == "rotated-jpeg":
        rotated_jpeg(path, int(rest[0]))
    elif command == "animated-gif":
        animated_gif(path, int(rest[0]))
    elif command == "describe":
        describe(path)
    else:
        sys.exit(__doc__)
