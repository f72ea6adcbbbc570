"""Datasets: the built-in synthetic demo set, dataset-yaml resolution and the VOC / COCO converters."""
