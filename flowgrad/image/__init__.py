"""``tf.image``: TF1's image functions on 3-D [height, width, channels] images and 4-D
[batch, height, width, channels] batches.

The resize methods are ops of their own (``flowgrad/ops/image_ops.py``: ResizeBilinear,
ResizeNearestNeighbor, ResizeBicubic, ResizeArea and their gradient ops); everything else is
composed from array and math ops, so gradients flow through it.
"""

from flowgrad.image._color import (adjust_brightness, adjust_contrast, adjust_gamma,
                                   adjust_hue, adjust_saturation, grayscale_to_rgb, hsv_to_rgb,
                                   per_image_standardization, random_brightness,
                                   random_contrast, random_hue, random_saturation,
                                   rgb_to_grayscale, rgb_to_hsv, rgb_to_yiq, rgb_to_yuv,
                                   yiq_to_rgb, yuv_to_rgb)
from flowgrad.image._common import convert_image_dtype
from flowgrad.image._geometry import (central_crop, crop_to_bounding_box, extract_glimpse,
                                      extract_image_patches, extract_patches, flip_left_right,
                                      flip_up_down, pad_to_bounding_box, random_crop,
                                      random_flip_left_right, random_flip_up_down, rot90,
                                      transpose_image)
from flowgrad.image._quality import (image_gradients, psnr, sobel_edges, ssim, ssim_multiscale,
                                     total_variation)
from flowgrad.image._resize import (ResizeMethod, crop_and_resize, resize, resize_area,
                                    resize_bicubic,
                                    resize_bilinear, resize_image_with_crop_or_pad,
                                    resize_image_with_pad, resize_images,
                                    resize_nearest_neighbor)

transpose = transpose_image

__all__ = [n for n in dir() if not n.startswith("_")]
