"""InterHand2.6M camera conventions against hand-computed values (reference §7.6, §3.6)."""
import numpy as np
import pytest

from training.geometry import camera_to_pixel, pixel_to_camera, world_to_camera

# camrot: world -> camera rotation (here 90 deg about z); campos: camera centre in world, mm.
CAMROT = np.array([[0.0, -1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
CAMPOS = np.array([100.0, 0.0, 0.0])
FOCAL, PRINCPT = np.array([1000.0, 1200.0]), np.array([160.0, 250.0])


def test_world_to_camera_subtracts_the_centre_then_rotates():
    world = np.array([[100.0, 0.0, 1000.0], [110.0, 0.0, 1000.0], [100.0, 20.0, 500.0]])
    cam = world_to_camera(world, CAMROT, CAMPOS)
    # R (X - C): (0,0,1000) -> same; (10,0,1000) -> (0,10,1000); (0,20,500) -> (-20,0,500)
    assert np.allclose(cam, [[0, 0, 1000], [0, 10, 1000], [-20, 0, 500]])


def test_camera_to_pixel_and_back():
    cam = np.array([[0.0, 10.0, 1000.0], [-20.0, 0.0, 500.0]])
    pixels = camera_to_pixel(cam, FOCAL, PRINCPT)
    # u = X / Z fx + cx, v = Y / Z fy + cy
    assert np.allclose(pixels, [[160.0, 250.0 + 12.0], [160.0 - 40.0, 250.0]])
    back = pixel_to_camera(np.c_[pixels, cam[:, 2]], FOCAL, PRINCPT)
    assert np.allclose(back, cam)


def test_per_row_cameras_broadcast_over_joints():
    world = np.zeros((2, 42, 3)) + [100.0, 0.0, 1000.0]
    camrot = np.stack([CAMROT, np.eye(3)])
    campos = np.stack([CAMPOS, np.zeros(3)])[:, None]
    cam = world_to_camera(world, camrot, campos)
    assert cam.shape == (2, 42, 3)
    assert np.allclose(cam[0], [0.0, 0.0, 1000.0]) and np.allclose(cam[1], [100.0, 0.0, 1000.0])
    assert camera_to_pixel(cam, FOCAL, PRINCPT)[1, 0, 0] == pytest.approx(160.0 + 100.0)
