"""The hands node as a lifecycle node, driven through the real lifecycle services over DDS.

lifecycle_msgs/srv/ChangeState and GetState are called by a client node, as a lifecycle manager
(nav2_lifecycle_manager, launch_ros) calls them. configure builds the estimator through the
factory, activate subscribes and publishes, deactivate stops and keeps the model, cleanup frees
it, shutdown finalizes; a configure that fails leaves the node unconfigured with the reason.
"""
from __future__ import annotations

import gc
import time
import weakref
from typing import Any

import pytest
from diagnostic_msgs.msg import DiagnosticStatus
from lifecycle_msgs.msg import State, Transition
from lifecycle_msgs.srv import ChangeState, GetState
from rcl_interfaces.msg import Log, ParameterType, ParameterValue
from rcl_interfaces.msg import Parameter as ParameterMsg
from rcl_interfaces.srv import SetParameters

from interhand_ros.processing.factory import build_estimator
from interhand_ros.ros import hands_node
from interhand_ros.ros.hands_node import HandsNode, StartupError

from test_node_ros import WAIT, Harness, ScriptedEstimator, camera_info, image

pytestmark = pytest.mark.usefixtures('ros')  # rclpy up for the module (conftest)


class Closing(ScriptedEstimator):
    """Counts its close() calls in a list it shares with its factory (no reference back)."""

    def __init__(self, closed: list[str]) -> None:
        super().__init__()
        self._closed = closed

    def close(self) -> None:
        self._closed.append('closed')


class CountingFactory:
    """The factory's signature; builds estimators, keeps weak references to them and counts
    how often they were closed."""

    def __init__(self) -> None:
        self.built: list[weakref.ref] = []
        self.closed: list[str] = []

    def __call__(self, settings, warn, how_to_pass_checkpoint='', info=None):
        estimator = Closing(self.closed)
        self.built.append(weakref.ref(estimator))
        return estimator


class Managed(Harness):
    """Harness whose node starts unconfigured (autostart false) and a lifecycle client."""

    def __init__(self, factory, **params) -> None:
        super().__init__(None, estimator_factory=factory, autostart=False,
                         diagnostics_period=0.1, **params)

    def call(self, srv_type, service: str, request, timeout: float = 30.0):
        client: Any = self.probe.create_client(srv_type, f'/{self.node.get_name()}/{service}')
        try:
            assert client.wait_for_service(timeout_sec=WAIT), service
            future = client.call_async(request)
            self.wait_for(future.done, timeout, f'{service} response')
            return future.result()
        finally:
            self.probe.destroy_client(client)

    def transition(self, transition_id: int) -> bool:
        return self.call(ChangeState, 'change_state', ChangeState.Request(
            transition=Transition(id=transition_id))).success

    def state(self) -> int:
        return self.call(GetState, 'get_state', GetState.Request()).current_state.id

    def set_string(self, name: str, value: str):
        msg = ParameterMsg(name=name, value=ParameterValue(type=ParameterType.PARAMETER_STRING,
                                                           string_value=value))
        return self.call(SetParameters, 'set_parameters',
                         SetParameters.Request(parameters=[msg])).results[0]

    def image_subscribers(self) -> int:
        return self.probe.count_subscribers('/image')

    def hands_publishers(self) -> int:
        return self.probe.count_publishers('/hands')


@pytest.fixture
def managed_factory():
    made = []

    def make(**kwargs):
        managed = Managed(**kwargs)
        made.append(managed)
        return managed
    yield make
    for managed in made:
        managed.close()


def test_transitions_through_the_lifecycle_services(managed_factory):
    factory = CountingFactory()
    m = managed_factory(factory=factory)
    assert m.state() == State.PRIMARY_STATE_UNCONFIGURED
    assert not factory.built and m.node.estimator is None
    m.wait_for(lambda: any(
        s.level == DiagnosticStatus.WARN and s.message.startswith('unconfigured')
        for s in m.diagnostics), WAIT, 'diagnostics: unconfigured')

    assert m.transition(Transition.TRANSITION_CONFIGURE)
    assert m.state() == State.PRIMARY_STATE_INACTIVE
    assert len(factory.built) == 1 and m.node.estimator is factory.built[0]()
    assert m.image_subscribers() == 0 and m.hands_publishers() == 0  # inactive: no traffic

    assert m.transition(Transition.TRANSITION_ACTIVATE)
    assert m.state() == State.PRIMARY_STATE_ACTIVE
    m.wait_for_discovery()
    m.wait_for_stamp(m.send_good())

    assert m.transition(Transition.TRANSITION_DEACTIVATE)
    assert m.state() == State.PRIMARY_STATE_INACTIVE
    m.wait_for(lambda: m.image_subscribers() == 0 and m.hands_publishers() == 0, WAIT,
               'subscriptions and publishers removed')
    assert m.node.worker is None and m.node.estimator is factory.built[0]()  # model kept
    assert not factory.closed
    calls = len(m.node.estimator.calls)
    stamp = m.stamp()
    m.send(image(stamp), camera_info(stamp))
    time.sleep(0.5)
    assert len(m.node.estimator.calls) == calls  # inactive: nothing processed

    assert m.transition(Transition.TRANSITION_ACTIVATE)  # again, without rebuilding
    m.wait_for_discovery()
    m.wait_for_stamp(m.send_good())
    assert len(factory.built) == 1

    assert m.transition(Transition.TRANSITION_DEACTIVATE)
    assert m.transition(Transition.TRANSITION_CLEANUP)
    assert m.state() == State.PRIMARY_STATE_UNCONFIGURED
    assert len(factory.closed) == 1  # the node closes what it built
    gc.collect()
    assert m.node.estimator is None and factory.built[0]() is None  # freed

    assert m.transition(Transition.TRANSITION_CONFIGURE)  # builds a new one
    assert len(factory.built) == 2 and factory.built[1]() is not None

    assert m.transition(Transition.TRANSITION_INACTIVE_SHUTDOWN)
    assert m.state() == State.PRIMARY_STATE_FINALIZED
    assert len(factory.closed) == 2
    gc.collect()
    assert factory.built[1]() is None
    m.wait_for(lambda: any('finalized' in s.message for s in m.diagnostics), WAIT,
               'diagnostics: finalized')


def test_active_node_shuts_down_through_the_service(managed_factory):
    factory = CountingFactory()
    m = managed_factory(factory=factory)
    assert m.transition(Transition.TRANSITION_CONFIGURE)
    assert m.transition(Transition.TRANSITION_ACTIVATE)
    m.wait_for_discovery()
    m.wait_for_stamp(m.send_good())
    assert m.transition(Transition.TRANSITION_ACTIVE_SHUTDOWN)
    assert m.state() == State.PRIMARY_STATE_FINALIZED
    m.wait_for(lambda: m.image_subscribers() == 0 and m.hands_publishers() == 0, WAIT,
               'subscriptions and publishers removed')
    assert factory.closed == ['closed']
    gc.collect()
    assert factory.built[0]() is None


def test_failed_configure_stays_unconfigured_with_the_reason(managed_factory, tmp_path):
    missing = tmp_path / 'missing.pth.tar'
    m = managed_factory(factory=build_estimator, checkpoint=str(missing), device='cpu')
    assert not m.transition(Transition.TRANSITION_CONFIGURE)
    assert m.state() == State.PRIMARY_STATE_UNCONFIGURED
    status = m.wait_for_error('checkpoint not found')
    assert str(missing) in status.message and status.message.startswith('cannot configure')
    assert m.image_subscribers() == 0 and m.hands_publishers() == 0

    # unconfigured: the checkpoint may change; '' builds the landmark fallback (MediaPipe)
    assert m.set_string('checkpoint', '').successful
    assert m.transition(Transition.TRANSITION_CONFIGURE)
    assert m.state() == State.PRIMARY_STATE_INACTIVE
    assert type(m.node.estimator).__name__ == 'LandmarkEstimator'
    m.diagnostics.clear()
    m.wait_for(lambda: any(s.level == DiagnosticStatus.WARN and s.message.startswith('inactive')
                           for s in m.diagnostics), WAIT, 'diagnostics: inactive, error gone')


class FailingOnce(CountingFactory):
    """A factory with a bug: its first call raises an unexpected error (not EstimatorError)."""

    failed = False

    def __call__(self, settings, warn, how_to_pass_checkpoint='', info=None):
        if not self.failed:
            self.failed = True
            raise KeyError('simulated bug in the factory')
        return super().__call__(settings, warn, how_to_pass_checkpoint, info)


def rosout(m: Managed) -> list[Log]:
    """The log lines the node publishes on /rosout from now on (once every /rosout writer
    in the graph, the node's among them, has matched this reader)."""
    logs: list[Log] = []
    subscription = m.probe.create_subscription(Log, '/rosout', logs.append, 100)

    def matched() -> bool:
        writers = m.probe.get_publishers_info_by_topic('/rosout')
        return (any(w.node_name == m.node.get_name() for w in writers)
                and subscription.get_publisher_count() >= len(writers))
    m.wait_for(matched, WAIT, "/rosout discovery (the node's writer)")
    return logs


def logged(logs: list[Log], *texts: str) -> bool:
    return any(log.level == Log.ERROR and all(text in log.msg for text in texts)
               for log in logs)


def test_unexpected_error_in_a_transition_is_logged_with_its_traceback_and_reported(
        managed_factory, monkeypatch):
    # rcl keeps one /rosout publisher per logger name: an earlier test's 'hands' node finalized
    # by the garbage collector later would take ours with it
    gc.collect()
    factory = FailingOnce()
    m = managed_factory(factory=factory)
    logs = rosout(m)
    assert not m.transition(Transition.TRANSITION_CONFIGURE)  # rclpy: ERROR, then on_error
    assert m.state() == State.PRIMARY_STATE_UNCONFIGURED
    status = m.wait_for_error('cannot configure: KeyError')
    assert 'simulated bug in the factory' in status.message
    m.wait_for(lambda: logged(logs, 'cannot configure', 'Traceback', 'simulated bug'), WAIT,
               'the error and its traceback on /rosout')

    assert m.transition(Transition.TRANSITION_CONFIGURE)  # the error released everything

    def no_worker(*args, **kwargs):
        raise RuntimeError('simulated bug at activation')
    monkeypatch.setattr(hands_node, 'Worker', no_worker)  # after the publishers are created
    assert not m.transition(Transition.TRANSITION_ACTIVATE)
    assert m.state() == State.PRIMARY_STATE_UNCONFIGURED
    m.wait_for_error('cannot activate: RuntimeError: simulated bug at activation')
    m.wait_for(lambda: logged(logs, 'cannot activate', 'Traceback'), WAIT, 'traceback logged')
    assert m.node.outputs is None and m.node.estimator is None
    assert factory.closed == ['closed']  # on_error closed the estimator configure built
    m.wait_for(lambda: m.hands_publishers() == 0, WAIT, 'publishers removed')

    monkeypatch.undo()
    assert m.transition(Transition.TRANSITION_CONFIGURE)
    assert m.transition(Transition.TRANSITION_ACTIVATE)
    m.wait_for_discovery()
    m.wait_for_stamp(m.send_good())


def test_autostart_failure_says_why():
    with pytest.raises(StartupError, match='cannot configure: KeyError.*simulated bug'):
        HandsNode(estimator_factory=FailingOnce())


def test_injected_estimator_is_not_closed_by_the_node():
    estimator = ScriptedEstimator()
    harness = Harness(estimator)
    harness.close()
    assert not estimator.closed  # its owner, the test, closes it


def cuda_available() -> bool:
    import torch
    return torch.cuda.is_available()


@pytest.mark.skipif(not cuda_available(), reason='needs CUDA: checks that cleanup frees GPU memory')
def test_cleanup_frees_the_model_and_the_cuda_cache(managed_factory, tmp_path):
    import torch

    from interhand_ros.engine.model import InterNet
    checkpoint = tmp_path / 'random_internet.pth.tar'
    torch.manual_seed(0)
    torch.save({'network': InterNet().state_dict()}, checkpoint)
    m = managed_factory(factory=build_estimator, checkpoint=str(checkpoint), device='cuda')
    before = torch.cuda.memory_reserved()
    assert m.transition(Transition.TRANSITION_CONFIGURE)
    assert torch.cuda.memory_allocated() > 50 * 2**20  # InterNet's weights (about 190 MB)
    assert m.transition(Transition.TRANSITION_ACTIVATE)
    m.wait_for_discovery()
    m.wait_for_stamp(m.send_good(), timeout=60.0)
    assert m.transition(Transition.TRANSITION_DEACTIVATE)
    assert torch.cuda.memory_allocated() > 50 * 2**20  # deactivate keeps the model
    assert m.transition(Transition.TRANSITION_CLEANUP)
    assert torch.cuda.memory_allocated() < 2**20
    assert torch.cuda.memory_reserved() <= before + 2**20  # the cache went back to the driver
